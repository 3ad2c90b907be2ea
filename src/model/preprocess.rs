//! Turning a decoded RGB photo into the model's input tensor, as the model manifest says.

use fast_image_resize::{self as fr, FilterType, ResizeAlg, ResizeOptions};
use image::RgbImage;

use crate::model::{Filter, InputSpec, ResizeMode};

/// Converts RGB images into one slot of an NCHW f32 batch. Reuses its buffers; one per thread.
pub struct Preprocessor {
    spec: InputSpec,
    resizer: fr::Resizer,
    dst: fr::images::Image<'static>,
    /// `lut[c][v]` = `(v / 255 - mean[c]) / std[c]`.
    lut: [[f32; 256]; 3],
}

impl Preprocessor {
    /// A preprocessor for the model input `spec`.
    pub fn new(spec: &InputSpec) -> Self {
        let mut lut = [[0f32; 256]; 3];
        for (c, table) in lut.iter_mut().enumerate() {
            for (v, x) in table.iter_mut().enumerate() {
                *x = (v as f32 / 255.0 - spec.mean[c]) / spec.std[c];
            }
        }
        Preprocessor {
            spec: spec.clone(),
            resizer: fr::Resizer::new(),
            dst: fr::images::Image::new(spec.width, spec.height, fr::PixelType::U8x3),
            lut,
        }
    }

    /// Number of f32 values one image occupies: `3 * height * width`.
    pub fn tensor_len(&self) -> usize {
        3 * self.spec.width as usize * self.spec.height as usize
    }

    /// The smallest short side (pixels) the source needs for this input without upsampling:
    /// what the JPEG DCT scaler must keep.
    pub fn min_source_short_side(&self) -> u32 {
        match self.spec.resize {
            ResizeMode::ShortSideCenterCrop => self.spec.resize_short_side,
            ResizeMode::Squash => self.spec.width.max(self.spec.height),
        }
    }

    /// Resize/crop `img` as the spec says and write `[3, H, W]` normalised f32 into `out`.
    ///
    /// `out.len()` must be [`Self::tensor_len`]. Errors only on a zero-sized image.
    pub fn run(&mut self, img: &RgbImage, out: &mut [f32]) -> Result<(), String> {
        assert_eq!(
            out.len(),
            self.tensor_len(),
            "output slot has the wrong length"
        );
        let (w, h) = (img.width() as f64, img.height() as f64);
        if w < 1.0 || h < 1.0 {
            return Err("zero-sized image".into());
        }
        let (ow, oh) = (self.spec.width as f64, self.spec.height as f64);
        let (cw, ch) = match self.spec.resize {
            // Scale so the short side becomes `resize_short_side`, then take the centre ow x oh:
            // in source pixels that is a box of (ow, oh) / scale.
            ResizeMode::ShortSideCenterCrop => {
                let scale = self.spec.resize_short_side as f64 / w.min(h);
                ((ow / scale).min(w), (oh / scale).min(h))
            }
            ResizeMode::Squash => (w, h),
        };
        let filter = match self.spec.filter {
            Filter::Bilinear => FilterType::Bilinear,
            Filter::Bicubic => FilterType::CatmullRom,
            Filter::Lanczos => FilterType::Lanczos3,
        };
        let opts = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(filter))
            .crop((w - cw) / 2.0, (h - ch) / 2.0, cw, ch);
        self.resizer
            .resize(img, &mut self.dst, &opts)
            .map_err(|e| e.to_string())?;
        let plane = self.spec.width as usize * self.spec.height as usize;
        let (r, rest) = out.split_at_mut(plane);
        let (g, b) = rest.split_at_mut(plane);
        for (i, px) in self.dst.buffer().chunks_exact(3).enumerate() {
            r[i] = self.lut[0][px[0] as usize];
            g[i] = self.lut[1][px[1] as usize];
            b[i] = self.lut[2][px[2] as usize];
        }
        Ok(())
    }
}
