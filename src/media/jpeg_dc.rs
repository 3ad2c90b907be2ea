//! DC-only JPEG decoding at scale 1/8: the fast path for the camera photos Likeness indexes.
//!
//! At scale 1/8 each 8x8 block of a JPEG becomes one pixel, the block's mean, which is its DC
//! coefficient times its quantiser over 8 (ITU-T T.81 A.3.3: the IDCT basis function (0,0) is
//! the constant 1/8). libjpeg-turbo's scaled decode computes exactly that (its 1x1 IDCT), but
//! it still Huffman-decodes and stores every AC coefficient, and for a progressive file decodes
//! every scan: ~29 ms of a 12 MP phone photo's ~31 ms (`perf`, BENCHMARKS.md). This decoder
//!
//! - walks the luma AC symbols of baseline scans only for their bit lengths, with a table that
//!   gives, for the next 12 bits, how many bits and coefficient positions the whole symbols in
//!   them take (often several per lookup);
//! - decodes 4:2:0 chroma blocks fully but keeps only the four quadrant means that
//!   libjpeg-turbo's 2x2 reduced IDCT produces at this scale (see `odd_weights`);
//! - reads only the DC scans of progressive files and skips the AC scans (most of the bytes)
//!   by searching for the next marker;
//! - un-stuffs the entropy-coded data once, so the bit reader refills 8 bytes at a time.
//!
//! On a 12 MP phone photo that is ~16 ms instead of ~30 ms, and ~10 ms instead of ~120–200 ms for
//! a progressive one (`likeness bench decode`, BENCHMARKS.md).
//!
//! Scope: 8-bit Huffman JPEGs (SOF0, SOF1, SOF2) with 1 (greyscale) or 3 (YCbCr) components and
//! sampling ratios of 1 or 2, the layout of practically every camera and phone photo. Anything
//! else, and any file whose marker segments or entropy-coded data are not well formed, returns a
//! [`Fallback`] and the caller decodes it with libjpeg-turbo, which has the whole standard and
//! its error recovery.
//!
//! Output compared with libjpeg-turbo's 1/8-scale decode (test `dc_decode_matches_libjpeg_turbo`,
//! every JPEG in `../shared`): luma is identical; baseline files' RGB is identical but for rare
//! rounding steps of 1–2 levels (float vs integer 2x2 IDCT); in progressive 4:2:0 files the
//! chroma comes from DC alone, upsampled with the triangle filter ("fancy upsampling"), within
//! a mean of 1–1.5 levels. Their descriptors agree at cosine >= 0.996, closer than libjpeg-turbo's
//! own decodes of one file at scales 1/8 and 2/8.

use image::RgbImage;

/// Why the fast path declined a file. The caller then decodes it with libjpeg-turbo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// A JPEG feature outside this decoder's scope (arithmetic coding, 12-bit samples, CMYK,
    /// a scale other than 1/8, ...).
    Unsupported(&'static str),
    /// Marker segments or entropy-coded data that are not well formed (truncated, corrupt);
    /// libjpeg-turbo may still recover part of the picture.
    Malformed(&'static str),
}

type Res<T> = std::result::Result<T, Fallback>;

/// Bits looked up at once in the Huffman tables (2^12 entries x 2 bytes = 8 KiB a table).
const FAST_BITS: u32 = 12;

/// `skip` entry flag: the entry's last symbol is an end of block.
const SKIP_EOB: u16 = 1 << 12;

/// A Huffman table (T.81 Annex C) with lookup tables for [`FAST_BITS`]-bit prefixes.
struct Huffman {
    /// `(code length << 8) | symbol` for codes of at most `FAST_BITS` bits; 0 for a longer code.
    fast: Vec<u16>,
    /// AC tables: what the next `FAST_BITS` bits hold, for walking AC coefficients without
    /// their values (see [`skip_entry`]). 0 when they begin with a longer code.
    skip: Box<[u16; 1 << FAST_BITS]>,
    /// Largest code of each length 1..=16, -1 when there is none.
    maxcode: [i32; 17],
    /// Index in `symbols` of a code of each length is `code + valoffset[len]`.
    valoffset: [i32; 17],
    symbols: Vec<u8>,
}

impl Huffman {
    /// Build from a DHT segment's 16 code-length counts and symbol values.
    fn new(counts: &[u8], values: &[u8], ac: bool) -> Res<Huffman> {
        let bad = Fallback::Malformed("bad Huffman table");
        let mut fast = vec![0u16; 1 << FAST_BITS];
        let mut maxcode = [-1i32; 17];
        let mut valoffset = [0i32; 17];
        let (mut code, mut k) = (0u32, 0usize);
        for len in 1..=16u32 {
            let n = counts[len as usize - 1] as usize;
            valoffset[len as usize] = k as i32 - code as i32;
            if n > 0 {
                // libjpeg's rule: the all-ones code of each length stays unused.
                if code + n as u32 >= 1 << len || k + n > values.len() {
                    return Err(bad);
                }
                for i in 0..n {
                    let c = code + i as u32;
                    if len <= FAST_BITS {
                        let shift = FAST_BITS - len;
                        let first = (c << shift) as usize;
                        let entry = (len as u16) << 8 | values[k + i] as u16;
                        fast[first..first + (1 << shift)].fill(entry);
                    }
                }
                maxcode[len as usize] = (code + n as u32 - 1) as i32;
            }
            code = (code + n as u32) << 1;
            k += n;
        }
        if k != values.len() {
            return Err(bad);
        }
        let mut skip = Box::new([0u16; 1 << FAST_BITS]);
        if ac {
            for (i, e) in skip.iter_mut().enumerate() {
                *e = skip_entry(&fast, i);
            }
        }
        Ok(Huffman {
            fast,
            skip,
            maxcode,
            valoffset,
            symbols: values.to_vec(),
        })
    }

    /// Decode one symbol from the bit reader (which holds at least 16 bits).
    #[inline(always)]
    fn symbol(&self, bits: &mut Bits) -> Res<u8> {
        let e = self.fast[bits.peek(FAST_BITS) as usize];
        if e != 0 {
            bits.consume((e >> 8) as u32);
            return Ok(e as u8);
        }
        for len in FAST_BITS + 1..=16 {
            let code = bits.peek(len) as i32;
            if code <= self.maxcode[len as usize] {
                let idx = code + self.valoffset[len as usize];
                let sym = *usize::try_from(idx)
                    .ok()
                    .and_then(|i| self.symbols.get(i))
                    .ok_or(Fallback::Malformed("bad Huffman code"))?;
                bits.consume(len);
                return Ok(sym);
            }
        }
        Err(Fallback::Malformed("bad Huffman code"))
    }
}

/// The `skip` entry for the `FAST_BITS`-bit prefix `i`: as many whole AC symbol codes as the
/// prefix holds, up to and including an end of block. Packed as `bits | advance << 5`, plus
/// [`SKIP_EOB`] when the last symbol is an end of block, where bits = code lengths + magnitude
/// bits (the magnitudes' values are never needed) and advance = how far the coefficient index
/// moves ([`ac_advance`]; the end of block itself not counted). 0 when the prefix begins with
/// a longer code.
fn skip_entry(fast: &[u16], i: usize) -> u16 {
    let mask = (1usize << FAST_BITS) - 1;
    let (mut bits, mut adv) = (0u16, 0u16);
    while bits < FAST_BITS as u16 {
        let f = fast[(i << bits) & mask];
        let len = f >> 8;
        if f == 0 || bits + len > FAST_BITS as u16 {
            break;
        }
        let sym = f as u8;
        let (b, a) = (len + (sym & 15) as u16, ac_advance(sym));
        if a == 64 {
            return (bits + b) | adv << 5 | SKIP_EOB;
        }
        if adv + a > 127 {
            break;
        }
        (bits, adv) = (bits + b, adv + a);
    }
    bits | adv << 5
}

/// How far an AC symbol (run << 4 | size) moves the coefficient index: run + 1; 16 for ZRL
/// (0xF0); 64 (end of block) for EOB and the r/0 symbols libjpeg also reads as EOB.
fn ac_advance(sym: u8) -> u16 {
    match (sym >> 4, sym & 15) {
        (15, 0) => 16,
        (_, 0) => 64,
        (run, _) => run as u16 + 1,
    }
}

/// MSB-first bit reader over un-stuffed entropy-coded bytes; reads zeros past the end.
struct Bits<'a> {
    data: &'a [u8],
    /// Next byte to load.
    pos: usize,
    /// Unread bits, left-aligned; the bits below `count` are zero.
    buf: u64,
    count: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        let mut b = Bits {
            data,
            pos: 0,
            buf: 0,
            count: 0,
        };
        b.refill();
        b
    }

    /// Top up to at least 56 bits with one 8-byte big-endian load (branch-free refill).
    #[inline(always)]
    fn refill(&mut self) {
        let word = match self.data.get(self.pos..self.pos + 8) {
            Some(s) => u64::from_be_bytes(s.try_into().expect("8 bytes")),
            None => {
                let mut w = [0u8; 8];
                let rest = self.data.get(self.pos..).unwrap_or(&[]);
                w[..rest.len().min(8)].copy_from_slice(&rest[..rest.len().min(8)]);
                u64::from_be_bytes(w)
            }
        };
        self.buf |= word >> self.count;
        self.pos += ((63 - self.count) >> 3) as usize;
        self.count |= 56;
    }

    /// The next `n` (1..=32) bits.
    #[inline(always)]
    fn peek(&self, n: u32) -> u64 {
        self.buf >> (64 - n)
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.count -= n;
    }

    /// Read an `s`-bit magnitude (0..=16) and sign-extend it (T.81 F.2.2.1 EXTEND).
    #[inline(always)]
    fn receive_extend(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        let v = self.peek(s) as i32;
        self.consume(s);
        extend(v, s)
    }

    /// Bits consumed so far.
    fn consumed(&self) -> usize {
        self.pos * 8 - self.count as usize
    }
}

/// T.81 F.2.2.1 EXTEND: the `s`-bit magnitude category value `v` (1 <= s <= 16) as a signed
/// coefficient.
#[inline(always)]
fn extend(v: i32, s: u32) -> i32 {
    if v < 1 << (s - 1) {
        v - (1 << s) + 1
    } else {
        v
    }
}

/// One frame component (SOF).
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    /// Quantisation table (zig-zag order), latched at the component's first scan.
    qtab: Option<[u16; 64]>,
    /// Subsampled by 2 both ways (4:2:0 chroma): at 1/8 scale each block gives 2x2 pixels,
    /// the means of its four 4x4 quadrants, as libjpeg-turbo's 2x2 reduced IDCT does.
    half: bool,
    /// Blocks that carry picture: ceil(ceil(width * h / hmax) / 8) x the same for height.
    bw: usize,
    bh: usize,
    /// Stride and rows of `dc`: the block grid padded to whole MCUs.
    pbw: usize,
    pbh: usize,
    /// Quantised DC coefficient of each block; allocated at the component's first scan.
    dc: Vec<i32>,
    /// `half` components of baseline files: each block's odd-frequency sums ([`quadrant_sums`]),
    /// from which its quadrant means follow. Empty otherwise (progressive files: DC only).
    odd: Vec<[f32; 3]>,
    /// A first DC scan (or a baseline scan) covered this component.
    dc_done: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScanKind {
    /// Sequential scan: DC, then AC symbols walked for their lengths.
    Baseline,
    /// Progressive first DC scan, point transform `al`.
    DcFirst(u32),
    /// Progressive DC refinement, one bit at `al`.
    DcRefine(u32),
}

/// Decode `bytes` at scale 1/8 from the DC coefficients alone.
///
/// Returns RGB pixels of `ceil(width / 8)` x `ceil(height / 8)` (EXIF orientation *not*
/// applied) and the full-resolution width and height, in pixels. Declines ([`Fallback`]) when the
/// file's short side at 1/8 would be under `min_short_side` pixels, when it has more than
/// `max_pixels` pixels, and for everything listed in the module docs.
pub fn decode_eighth(
    bytes: &[u8],
    min_short_side: u32,
    max_pixels: u64,
) -> Res<(RgbImage, u32, u32)> {
    let (comps, width, height) = decode_dc(bytes, min_short_side, max_pixels)?;
    let img = to_rgb(&comps, width, height)?;
    Ok((img, width as u32, height as u32))
}

/// The first component (luma, Y) of [`decode_eighth`]'s decode, before colour conversion:
/// `ceil(width / 8)` x `ceil(height / 8)` pixels (what libjpeg-turbo's greyscale output of the
/// file at scale 1/8 is).
pub fn decode_eighth_luma(
    bytes: &[u8],
    min_short_side: u32,
    max_pixels: u64,
) -> Res<image::GrayImage> {
    let (comps, width, height) = decode_dc(bytes, min_short_side, max_pixels)?;
    let (ow, oh) = (width.div_ceil(8), height.div_ceil(8));
    let hmax = comps.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = comps.iter().map(|c| c.v).max().unwrap_or(1);
    let y = plane(&comps[0], hmax, vmax, ow, oh);
    image::GrayImage::from_raw(ow as u32, oh as u32, y).ok_or(Fallback::Malformed("bad image size"))
}

/// Parse and entropy-decode: the components with their DC grids, width and height in pixels.
fn decode_dc(
    bytes: &[u8],
    min_short_side: u32,
    max_pixels: u64,
) -> Res<(Vec<Component>, usize, usize)> {
    let malformed = Fallback::Malformed;
    if bytes.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err(malformed("no SOI marker"));
    }
    let mut tables = Tables {
        quant: [None; 4],
        dc: [None, None, None, None],
        ac: [None, None, None, None],
    };
    let mut comps: Vec<Component> = Vec::new();
    let (mut width, mut height, mut progressive) = (0usize, 0usize, false);
    let (mut restart_interval, mut jfif, mut adobe_transform) = (0usize, false, None);
    let (mut scratch, mut restarts) = (Vec::new(), Vec::new());
    let mut i = 2;
    loop {
        // Expect a marker; fill bytes (0xFF) may precede it.
        if bytes.get(i) != Some(&0xFF) {
            if i >= bytes.len() && !comps.is_empty() && comps.iter().all(|c| c.dc_done) {
                break; // missing EOI after complete DC data: nothing at 1/8 is lost
            }
            return Err(malformed("expected a marker"));
        }
        while bytes.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&m) = bytes.get(i) else {
            return Err(malformed("truncated marker"));
        };
        i += 1;
        match m {
            0xD9 => break,
            0xD0..=0xD7 | 0x01 => continue,
            0xD8 => return Err(malformed("second SOI")),
            _ => {}
        }
        let len = match bytes.get(i..i + 2) {
            Some(l) => u16::from_be_bytes([l[0], l[1]]) as usize,
            None => return Err(malformed("truncated segment")),
        };
        let seg = bytes
            .get(i + 2..i + len)
            .filter(|_| len >= 2)
            .ok_or(malformed("truncated segment"))?;
        i += len;
        match m {
            0xE0 if seg.starts_with(b"JFIF\0") => jfif = true,
            0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => adobe_transform = Some(seg[11]),
            0xDB => parse_dqt(seg, &mut tables.quant)?,
            0xC4 => parse_dht(seg, &mut tables.dc, &mut tables.ac)?,
            0xDD => {
                let r = seg.get(..2).ok_or(malformed("bad DRI"))?;
                restart_interval = u16::from_be_bytes([r[0], r[1]]) as usize;
            }
            0xC0..=0xC2 => {
                if !comps.is_empty() {
                    return Err(malformed("second SOF"));
                }
                progressive = m == 0xC2;
                (width, height, comps) = parse_sof(seg, min_short_side, max_pixels)?;
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(Fallback::Unsupported(
                    "lossless, hierarchical or arithmetic JPEG",
                ));
            }
            0xDA => {
                if comps.is_empty() {
                    return Err(malformed("SOS before SOF"));
                }
                // libjpeg's colour-space guess: JFIF means YCbCr, else Adobe's transform flag,
                // else component ids 'R', 'G', 'B' mean RGB.
                let rgb_ids = comps.iter().map(|c| c.id.to_ascii_uppercase()).eq(*b"RGB");
                if comps.len() == 3
                    && !jfif
                    && (adobe_transform == Some(0) || adobe_transform.is_none() && rgb_ids)
                {
                    return Err(Fallback::Unsupported("RGB colour space"));
                }
                let scan = parse_sos(seg, &comps, progressive)?;
                i = match scan.kind {
                    None => skip_entropy_data(bytes, i),
                    Some(kind) => {
                        let end = unstuff(bytes, i, &mut scratch, &mut restarts);
                        decode_scan(
                            &restart_segments(&scratch, &restarts),
                            &scan,
                            kind,
                            &mut comps,
                            (width, height),
                            restart_interval,
                            &tables,
                        )?;
                        end
                    }
                };
            }
            _ => {} // other APPn, COM, ...: not needed
        }
    }
    if comps.is_empty() || !comps.iter().all(|c| c.dc_done) {
        return Err(malformed("missing scans"));
    }
    Ok((comps, width, height))
}

/// Whether `bytes` is a progressive JPEG (an SOF2 marker segment before the first scan).
pub fn is_progressive(bytes: &[u8]) -> bool {
    let mut i = 2;
    while let Some(&[0xFF, m, hi, lo]) = bytes
        .get(i..i + 4)
        .map(|s| [s[0], s[1], s[2], s[3]])
        .as_ref()
    {
        match m {
            0xC2 => return true,
            0xDA | 0xD9 => return false,
            _ => i += 2 + u16::from_be_bytes([hi, lo]) as usize,
        }
    }
    false
}

fn parse_dqt(mut seg: &[u8], quant: &mut [Option<[u16; 64]>; 4]) -> Res<()> {
    while let Some((&pq_tq, rest)) = seg.split_first() {
        let (precision, tq) = (pq_tq >> 4, (pq_tq & 15) as usize);
        let n = if precision == 0 { 64 } else { 128 };
        if tq > 3 || precision > 1 || rest.len() < n {
            return Err(Fallback::Malformed("bad DQT"));
        }
        let mut t = [0u16; 64];
        for (k, q) in t.iter_mut().enumerate() {
            *q = if precision == 0 {
                rest[k] as u16
            } else {
                u16::from_be_bytes([rest[2 * k], rest[2 * k + 1]])
            };
        }
        quant[tq] = Some(t);
        seg = &rest[n..];
    }
    Ok(())
}

fn parse_dht(
    mut seg: &[u8],
    dc_tables: &mut [Option<Huffman>; 4],
    ac_tables: &mut [Option<Huffman>; 4],
) -> Res<()> {
    let bad = Fallback::Malformed("bad DHT");
    while let Some((&tc_th, rest)) = seg.split_first() {
        let (class, th) = (tc_th >> 4, (tc_th & 15) as usize);
        let counts = rest.get(..16).ok_or(bad)?;
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let values = rest.get(16..16 + total).ok_or(bad)?;
        if th > 3 || class > 1 || total > 256 {
            return Err(bad);
        }
        let table = Huffman::new(counts, values, class == 1)?;
        if class == 0 {
            dc_tables[th] = Some(table);
        } else {
            ac_tables[th] = Some(table);
        }
        seg = &rest[16 + total..];
    }
    Ok(())
}

fn parse_sof(
    seg: &[u8],
    min_short_side: u32,
    max_pixels: u64,
) -> Res<(usize, usize, Vec<Component>)> {
    let bad = Fallback::Malformed("bad SOF");
    let head = seg.get(..6).ok_or(bad)?;
    if head[0] != 8 {
        return Err(Fallback::Unsupported("not 8-bit samples"));
    }
    let height = u16::from_be_bytes([head[1], head[2]]) as usize;
    let width = u16::from_be_bytes([head[3], head[4]]) as usize;
    let n = head[5] as usize;
    if height == 0 || width == 0 {
        return Err(Fallback::Unsupported("height defined by DNL"));
    }
    if (width * height) as u64 > max_pixels {
        return Err(Fallback::Unsupported("over the pixel limit"));
    }
    if (width.min(height)).div_ceil(8) < min_short_side as usize {
        return Err(Fallback::Unsupported("needs a scale above 1/8"));
    }
    if n != 1 && n != 3 {
        return Err(Fallback::Unsupported("not greyscale or YCbCr"));
    }
    let specs = seg.get(6..6 + 3 * n).ok_or(bad)?;
    let mut comps: Vec<Component> = specs
        .chunks_exact(3)
        .map(|c| {
            let (h, v, tq) = ((c[1] >> 4) as usize, (c[1] & 15) as usize, c[2] as usize);
            if !(1..=4).contains(&h) || !(1..=4).contains(&v) || tq > 3 {
                return Err(bad);
            }
            Ok(Component {
                id: c[0],
                h,
                v,
                tq,
                qtab: None,
                half: false,
                bw: 0,
                bh: 0,
                pbw: 0,
                pbh: 0,
                dc: Vec::new(),
                odd: Vec::new(),
                dc_done: false,
            })
        })
        .collect::<Res<_>>()?;
    if n == 1 {
        // A single-component frame is never interleaved: one block per MCU.
        (comps[0].h, comps[0].v) = (1, 1);
    }
    let hmax = comps.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = comps.iter().map(|c| c.v).max().unwrap_or(1);
    let (mcux, mcuy) = (width.div_ceil(8 * hmax), height.div_ceil(8 * vmax));
    for c in &mut comps {
        if hmax % c.h != 0 || vmax % c.v != 0 || hmax / c.h > 2 || vmax / c.v > 2 {
            return Err(Fallback::Unsupported(
                "chroma subsampling other than 1 or 2",
            ));
        }
        c.bw = (width * c.h).div_ceil(hmax).div_ceil(8);
        c.bh = (height * c.v).div_ceil(vmax).div_ceil(8);
        (c.pbw, c.pbh) = (mcux * c.h, mcuy * c.v);
        c.half = hmax / c.h == 2 && vmax / c.v == 2;
    }
    Ok((width, height, comps))
}

/// A parsed SOS header.
struct Scan {
    /// Index into the frame's components, DC table, AC table.
    comps: Vec<(usize, usize, usize)>,
    /// What to decode; `None` for a progressive AC scan, which is skipped.
    kind: Option<ScanKind>,
}

fn parse_sos(seg: &[u8], comps: &[Component], progressive: bool) -> Res<Scan> {
    let bad = Fallback::Malformed("bad SOS");
    let n = *seg.first().ok_or(bad)? as usize;
    let specs = seg.get(1..1 + 2 * n).ok_or(bad)?;
    let tail = seg.get(1 + 2 * n..4 + 2 * n).ok_or(bad)?;
    if n == 0 || n > comps.len() {
        return Err(bad);
    }
    let scan_comps = specs
        .chunks_exact(2)
        .map(|s| {
            let ci = comps.iter().position(|c| c.id == s[0]).ok_or(bad)?;
            let (td, ta) = ((s[1] >> 4) as usize, (s[1] & 15) as usize);
            if td > 3 || ta > 3 {
                return Err(bad);
            }
            Ok((ci, td, ta))
        })
        .collect::<Res<Vec<_>>>()?;
    let (ss, se, ah, al) = (tail[0], tail[1], tail[2] >> 4, (tail[2] & 15) as u32);
    let kind = if !progressive {
        if ss != 0 || se != 63 {
            return Err(bad);
        }
        Some(ScanKind::Baseline)
    } else if ss == 0 {
        if se != 0 || al > 13 {
            return Err(bad);
        }
        Some(if ah == 0 {
            ScanKind::DcFirst(al)
        } else {
            ScanKind::DcRefine(al)
        })
    } else {
        None
    };
    Ok(Scan {
        comps: scan_comps,
        kind,
    })
}

/// Copy the entropy-coded data that starts at `start` into `out` without byte stuffing
/// (0xFF 0x00 becomes 0xFF) and without restart markers, recording in `restarts` the offset in
/// `out` where each restart interval after the first begins. Returns the position of the marker
/// that ends the scan (or the end of `bytes`).
fn unstuff(bytes: &[u8], start: usize, out: &mut Vec<u8>, restarts: &mut Vec<usize>) -> usize {
    out.clear();
    restarts.clear();
    let mut i = start;
    loop {
        let Some(off) = bytes.get(i..).and_then(|r| memchr::memchr(0xFF, r)) else {
            out.extend_from_slice(bytes.get(i..).unwrap_or(&[]));
            return bytes.len();
        };
        let j = i + off;
        out.extend_from_slice(&bytes[i..j]);
        match bytes.get(j + 1) {
            Some(0x00) => {
                out.push(0xFF);
                i = j + 2;
            }
            Some(0xD0..=0xD7) => {
                restarts.push(out.len());
                i = j + 2;
            }
            Some(0xFF) => i = j + 1, // fill byte before a marker
            Some(_) => return j,
            None => return bytes.len(),
        }
    }
}

/// Position of the marker that ends the entropy-coded data starting at `start` (or the end).
fn skip_entropy_data(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while let Some(off) = bytes.get(i..).and_then(|r| memchr::memchr(0xFF, r)) {
        let j = i + off;
        match bytes.get(j + 1) {
            Some(0x00 | 0xD0..=0xD7 | 0xFF) => i = j + 1,
            Some(_) => return j,
            None => break,
        }
    }
    bytes.len()
}

/// Split un-stuffed scan data at the restart offsets [`unstuff`] recorded.
fn restart_segments<'d>(data: &'d [u8], restarts: &[usize]) -> Vec<&'d [u8]> {
    let mut segs = Vec::with_capacity(restarts.len() + 1);
    let mut start = 0;
    for &r in restarts {
        segs.push(&data[start..r]);
        start = r;
    }
    segs.push(&data[start..]);
    segs
}

/// The Huffman and quantisation tables in force.
struct Tables {
    /// Quantisation tables, zig-zag order.
    quant: [Option<[u16; 64]>; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
}

/// Tables and grid geometry of one scan component.
struct Sc<'t> {
    /// Index into the frame's components.
    ci: usize,
    dc: Option<&'t Huffman>,
    ac: Option<&'t Huffman>,
    /// Blocks per MCU, horizontally and vertically.
    h: usize,
    v: usize,
    /// Baseline `half` component: weights for its quadrant means.
    odd: Option<Box<OddWeights>>,
}

/// The tables and geometry of each component of `scan`, latching each component's
/// quantisation table on first use.
///
/// Errors: a table the scan needs is missing.
fn scan_components<'t>(
    scan: &Scan,
    kind: ScanKind,
    comps: &mut [Component],
    tables: &'t Tables,
) -> Res<Vec<Sc<'t>>> {
    let Tables {
        quant,
        dc: dc_tables,
        ac: ac_tables,
    } = tables;
    let missing = Fallback::Unsupported("scan without its Huffman table");
    let single = scan.comps.len() == 1;
    let mut sc = Vec::with_capacity(scan.comps.len());
    for &(ci, td, ta) in &scan.comps {
        let c = &mut comps[ci];
        if c.qtab.is_none() {
            c.qtab = Some(quant[c.tq].ok_or(Fallback::Malformed("missing quantisation table"))?);
        }
        let (dc, ac) = match kind {
            ScanKind::Baseline => (
                Some(dc_tables[td].as_ref().ok_or(missing)?),
                Some(ac_tables[ta].as_ref().ok_or(missing)?),
            ),
            ScanKind::DcFirst(_) => (Some(dc_tables[td].as_ref().ok_or(missing)?), None),
            ScanKind::DcRefine(_) => (None, None),
        };
        let (h, v) = if single { (1, 1) } else { (c.h, c.v) };
        let odd = (kind == ScanKind::Baseline && c.half)
            .then(|| Box::new(odd_weights(c.qtab.as_ref().expect("latched above"))));
        sc.push(Sc {
            ci,
            dc,
            ac,
            h,
            v,
            odd,
        });
    }
    Ok(sc)
}

/// Entropy-decode one scan into the components' DC grids (and, for baseline 4:2:0 chroma, the
/// quadrant sums).
fn decode_scan(
    segments: &[&[u8]],
    scan: &Scan,
    kind: ScanKind,
    comps: &mut [Component],
    (width, height): (usize, usize),
    restart_interval: usize,
    tables: &Tables,
) -> Res<()> {
    let single = scan.comps.len() == 1;
    let sc = scan_components(scan, kind, comps, tables)?;
    let (mcux, mcuy) = if single {
        (comps[sc[0].ci].bw, comps[sc[0].ci].bh)
    } else {
        let hmax = comps.iter().map(|c| c.h).max().unwrap_or(1);
        let vmax = comps.iter().map(|c| c.v).max().unwrap_or(1);
        (width.div_ceil(8 * hmax), height.div_ceil(8 * vmax))
    };
    let total = mcux * mcuy;
    // Every block takes at least one bit (a DC code, or a refinement bit): a file that declares
    // far more blocks than its data can hold is corrupt or a decompression bomb.
    let blocks_per_mcu: usize = sc.iter().map(|s| s.h * s.v).sum();
    let data_bits: usize = segments.iter().map(|s| s.len() * 8).sum();
    if total * blocks_per_mcu > data_bits {
        return Err(Fallback::Malformed("fewer bits than blocks"));
    }
    for s in &sc {
        let c = &mut comps[s.ci];
        if c.dc.is_empty() {
            c.dc = vec![0; c.pbw * c.pbh];
        }
        if s.odd.is_some() {
            c.odd = vec![[0.0; 3]; c.pbw * c.pbh];
        }
    }
    let per_segment = if restart_interval == 0 {
        total
    } else {
        restart_interval
    };
    if segments.len() != total.div_ceil(per_segment).max(1) {
        return Err(Fallback::Malformed("wrong number of restart intervals"));
    }
    let mut mcu = 0;
    for seg in segments {
        let seg: &[u8] = seg;
        let mut bits = Bits::new(seg);
        let mut pred = [0i32; 4];
        let end = (mcu + per_segment).min(total);
        while mcu < end {
            let (mx, my) = (mcu % mcux, mcu / mcux);
            for (k, s) in sc.iter().enumerate() {
                let c = &mut comps[s.ci];
                for v in 0..s.v {
                    for h in 0..s.h {
                        let idx = (my * s.v + v) * c.pbw + mx * s.h + h;
                        bits.refill();
                        match kind {
                            ScanKind::Baseline | ScanKind::DcFirst(_) => {
                                let t = s.dc.expect("DC table checked above");
                                let size = t.symbol(&mut bits)? as u32;
                                if size > 16 {
                                    return Err(Fallback::Malformed("bad DC magnitude"));
                                }
                                pred[k] = pred[k].wrapping_add(bits.receive_extend(size));
                                c.dc[idx] = match kind {
                                    ScanKind::DcFirst(al) => pred[k].wrapping_shl(al),
                                    _ => pred[k],
                                };
                                if let Some(ac) = s.ac {
                                    match &s.odd {
                                        None => skip_ac(ac, &mut bits)?,
                                        Some(w) => c.odd[idx] = quadrant_sums(ac, &mut bits, w)?,
                                    }
                                }
                            }
                            ScanKind::DcRefine(al) => {
                                if bits.peek(1) == 1 {
                                    c.dc[idx] |= 1 << al;
                                }
                                bits.consume(1);
                            }
                        }
                    }
                }
            }
            mcu += 1;
        }
        if bits.consumed() > seg.len() * 8 {
            return Err(Fallback::Malformed("entropy-coded data ends early"));
        }
    }
    if matches!(kind, ScanKind::Baseline | ScanKind::DcFirst(_)) {
        for s in &sc {
            comps[s.ci].dc_done = true;
        }
    }
    Ok(())
}

/// Per zig-zag position 1..63: which odd-frequency sum the coefficient adds to (0: odd
/// horizontal frequency in the first row, 1: odd vertical frequency in the first column,
/// 2: both odd, 3: none) and its weight, quantiser included.
type OddWeights = [(u8, f32); 64];

/// Natural (row-major) position of each zig-zag index (T.81 figure A.6).
const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// [`OddWeights`] for a quantisation table (zig-zag order).
///
/// The mean of a 4x4 quadrant of the 8x8 IDCT (T.81 A.3.3) is
/// `sum over u, v of C(u) C(v) F(v, u) a(u) a(v) / 4`, with `a(u)` the mean of
/// `cos((2x + 1) u pi / 16)` over the quadrant's four columns: 1 for u = 0, 0 for even u > 0, and
/// for odd u a value whose sign flips between the left and right quadrant. So only DC and the
/// coefficients with u, v in {0, 1, 3, 5, 7} matter, grouped by which of u, v are odd.
fn odd_weights(q: &[u16; 64]) -> OddWeights {
    use std::f64::consts::{FRAC_1_SQRT_2, PI};
    // C(u) a(u) over the left/top quadrant.
    let ca = |u: usize| -> f64 {
        if u == 0 {
            FRAC_1_SQRT_2
        } else {
            (0..4)
                .map(|x| ((2 * x + 1) as f64 * u as f64 * PI / 16.0).cos())
                .sum::<f64>()
                / 4.0
        }
    };
    let mut w = [(3u8, 0f32); 64];
    for (k, e) in w.iter_mut().enumerate().skip(1) {
        let n = ZIGZAG[k] as usize;
        let (v, u) = (n / 8, n % 8);
        let class = match (u % 2 == 1, v % 2 == 1) {
            (true, false) if v == 0 => 0,
            (false, true) if u == 0 => 1,
            (true, true) => 2,
            _ => continue,
        };
        *e = (class, (ca(u) * ca(v) / 4.0 * q[k] as f64) as f32);
    }
    w
}

/// Decode the AC coefficients of one block and return its three odd-frequency sums
/// (see [`odd_weights`]): the top-left quadrant's mean is DC term + s0 + s1 + s2, and moving
/// right or down flips the sign of the sums with an odd frequency in that direction.
#[inline(always)]
fn quadrant_sums(t: &Huffman, bits: &mut Bits, w: &OddWeights) -> Res<[f32; 3]> {
    let mut acc = [0f32; 4];
    let mut k = 1usize;
    while k < 64 {
        if bits.count < 32 {
            bits.refill();
        }
        let sym = t.symbol(bits)?;
        let (run, size) = ((sym >> 4) as usize, (sym & 15) as u32);
        if size == 0 {
            if run != 15 {
                break; // end of block
            }
            k += 16;
            continue;
        }
        k += run;
        let value = bits.receive_extend(size);
        if let Some(&(class, weight)) = w.get(k) {
            acc[class as usize] += value as f32 * weight;
        }
        k += 1;
    }
    Ok([acc[0], acc[1], acc[2]])
}

/// Walk the AC coefficients 1..63 of one block, consuming their bits.
///
/// The hot loop of the whole decoder: one table lookup per `FAST_BITS` of data (often several
/// coefficients). A symbol takes at most 16 + 15 bits and a table entry at most
/// `FAST_BITS` + 15 = 27, so one refill (56+ bits) serves two entries.
#[inline(always)]
fn skip_ac(t: &Huffman, bits: &mut Bits) -> Res<()> {
    let skip = &*t.skip;
    let mut k = 1u32;
    loop {
        bits.refill();
        for _ in 0..2 {
            let e = skip[bits.peek(FAST_BITS) as usize];
            let next = k + ((e >> 5) & 127) as u32;
            if e != 0 && next < 64 {
                bits.consume((e & 31) as u32);
                if e & SKIP_EOB != 0 {
                    return Ok(());
                }
                k = next;
                continue;
            }
            // A code longer than FAST_BITS (rare), or the block reaches coefficient 63 within
            // this entry: one symbol at a time.
            if bits.count < 31 {
                bits.refill();
            }
            let sym = t.symbol(bits)?;
            bits.consume((sym & 15) as u32);
            bits.refill();
            k += ac_advance(sym) as u32;
            if k >= 64 {
                return Ok(());
            }
        }
    }
}

/// Dequantise the DC grids into 8-bit planes, upsample subsampled chroma, convert to RGB.
fn to_rgb(comps: &[Component], width: usize, height: usize) -> Res<RgbImage> {
    let (ow, oh) = (width.div_ceil(8), height.div_ceil(8));
    let hmax = comps.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = comps.iter().map(|c| c.v).max().unwrap_or(1);
    let planes: Vec<Vec<u8>> = comps.iter().map(|c| plane(c, hmax, vmax, ow, oh)).collect();
    let mut out = vec![0u8; ow * oh * 3];
    if planes.len() == 1 {
        for (px, &y) in out.chunks_exact_mut(3).zip(&planes[0]) {
            px.fill(y);
        }
    } else {
        let ycc = planes[0].iter().zip(&planes[1]).zip(&planes[2]);
        for (px, ((&y, &cb), &cr)) in out.chunks_exact_mut(3).zip(ycc) {
            let (y, cb, cr) = (y as i32, cb as i32 - 128, cr as i32 - 128);
            // JFIF YCbCr -> RGB (ITU-T T.871 section 7), 16-bit fixed point, rounded the way
            // libjpeg's tables round.
            let r = y + ((91_881 * cr + 32_768) >> 16);
            let g = y + ((-22_554 * cb - 46_802 * cr + 32_768) >> 16);
            let b = y + ((116_130 * cb + 32_768) >> 16);
            px[0] = r.clamp(0, 255) as u8;
            px[1] = g.clamp(0, 255) as u8;
            px[2] = b.clamp(0, 255) as u8;
        }
    }
    RgbImage::from_raw(ow as u32, oh as u32, out).ok_or(Fallback::Malformed("bad image size"))
}

/// One component as an `ow` x `oh` 8-bit plane: the block means (DC), upsampled from its
/// sampling `c.h` x `c.v` to `hmax` x `vmax`; for `half` components of baseline files, the
/// quadrant means instead (2x2 pixels a block, no upsampling).
fn plane(c: &Component, hmax: usize, vmax: usize, ow: usize, oh: usize) -> Vec<u8> {
    let q0 = c.qtab.map_or(1, |t| t[0]) as i64;
    if c.half && !c.odd.is_empty() && hmax == 2 * c.h && vmax == 2 * c.v {
        // +128 undoes the level shift; +0.5 and truncation round (negatives clamp to 0).
        let px = |m: f32| (m + 128.5).clamp(0.0, 255.0) as u8;
        let mut p = vec![0u8; ow * oh];
        for by in 0..c.bh.min(oh.div_ceil(2)) {
            for bx in 0..c.bw.min(ow.div_ceil(2)) {
                let i = by * c.pbw + bx;
                let [s0, s1, s2] = c.odd[i];
                let dc = (c.dc[i] as i64 * q0) as f32 / 8.0;
                let (x, y) = (2 * bx, 2 * by);
                p[y * ow + x] = px(dc + s0 + s1 + s2);
                if x + 1 < ow {
                    p[y * ow + x + 1] = px(dc - s0 + s1 - s2);
                }
                if y + 1 < oh {
                    p[(y + 1) * ow + x] = px(dc + s0 - s1 - s2);
                    if x + 1 < ow {
                        p[(y + 1) * ow + x + 1] = px(dc - s0 - s1 + s2);
                    }
                }
            }
        }
        return p;
    }
    // T.81 A.3.3: the block mean is DC * q / 8; +128 undoes the level shift.
    let mut p = vec![0u8; c.bw * c.bh];
    for (row, dc) in p.chunks_exact_mut(c.bw).zip(c.dc.chunks_exact(c.pbw)) {
        for (v, &d) in row.iter_mut().zip(dc) {
            *v = (((d as i64 * q0 + 4) >> 3) + 128).clamp(0, 255) as u8;
        }
    }
    upsample(&p, c.bw, c.bh, hmax / c.h, vmax / c.v, ow, oh)
}

/// Upsample a `w` x `h` plane by `fx`, `fy` (1 or 2) into `ow` x `oh`; edge samples repeat.
///
/// By 2 in one direction only (4:2:2, 4:4:0 files), samples are replicated, as libjpeg-turbo
/// does at scale 1/8 (it turns "fancy upsampling" off when the smallest DCT scale is 1): the
/// output is bit-exact. By 2 both ways (4:2:0 chroma of progressive files, read from DC only
/// where libjpeg-turbo runs a 2x2 reduced IDCT), the triangle filter stands in for the missing
/// within-block detail: 3/4 of the nearer sample and 1/4 of the farther, one direction at a
/// time, rounded with libjpeg's alternating bias.
fn upsample(p: &[u8], w: usize, h: usize, fx: usize, fy: usize, ow: usize, oh: usize) -> Vec<u8> {
    if fx == 1 && fy == 1 && (w, h) == (ow, oh) {
        return p.to_vec();
    }
    if fx == 1 || fy == 1 {
        let xs: Vec<usize> = (0..ow).map(|x| (x / fx).min(w - 1)).collect();
        let mut out = vec![0u8; ow * oh];
        for (y, line) in out.chunks_exact_mut(ow).enumerate() {
            let row = &p[(y / fy).min(h - 1) * w..][..w];
            for (v, &x) in line.iter_mut().zip(&xs) {
                *v = row[x];
            }
        }
        return out;
    }
    // Output sample `o` from a line of `n` input samples via `at(i)`.
    fn tap(o: usize, f: usize, n: usize, at: impl Fn(usize) -> u16) -> u8 {
        let i = (o / f).min(n - 1);
        if f == 1 {
            return at(i) as u8;
        }
        let near = 3 * at(i);
        (if o.is_multiple_of(2) {
            (near + at(i.saturating_sub(1)) + 1) >> 2
        } else {
            (near + at((i + 1).min(n - 1)) + 2) >> 2
        }) as u8
    }
    // Horizontal pass: h rows of ow samples.
    let mut wide = vec![0u8; ow * h];
    for (row, out) in p.chunks_exact(w).zip(wide.chunks_exact_mut(ow)) {
        for (o, v) in out.iter_mut().enumerate() {
            *v = tap(o, fx, w, |i| row[i] as u16);
        }
    }
    // Vertical pass.
    let mut out = vec![0u8; ow * oh];
    for (y, line) in out.chunks_exact_mut(ow).enumerate() {
        for (x, v) in line.iter_mut().enumerate() {
            *v = tap(y, fy, h, |i| wide[i * ow + x] as u16);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ac_advance_follows_libjpeg() {
        assert_eq!(ac_advance(0x00), 64); // EOB
        assert_eq!(ac_advance(0xF0), 16); // ZRL
        assert_eq!(ac_advance(0x31), 4);
        assert_eq!(ac_advance(0x20), 64); // r/0 is read as EOB
    }

    #[test]
    fn upsample_replicates_one_way_and_interpolates_both_ways() {
        let p = [0u8, 100];
        // 2x2: centres at -0.25, 0.25, 0.75, 1.25 input samples, each way.
        let out = upsample(&[0, 100, 0, 100], 2, 2, 2, 2, 4, 4);
        assert_eq!(&out[..4], &[0, 25, 75, 100]);
        assert_eq!(&out[4..8], &[0, 25, 75, 100]);
        assert_eq!(upsample(&[7; 6], 3, 2, 2, 2, 6, 4), vec![7; 24]);
        // One direction: replicated, and cropped to the output size.
        assert_eq!(upsample(&p, 2, 1, 2, 1, 3, 1), vec![0, 0, 100]);
        assert_eq!(upsample(&p, 1, 2, 1, 2, 1, 3), vec![0, 0, 100]);
    }

    #[test]
    fn bit_reader_extends_signs_and_reads_zeros_past_the_end() {
        let mut b = Bits::new(&[0b1010_0011]);
        assert_eq!(b.receive_extend(2), 2); // "10": 2
        assert_eq!(b.receive_extend(2), 2);
        assert_eq!(b.receive_extend(2), -3); // "00": -3
        assert_eq!(b.receive_extend(2), 3); // "11": 3
        assert_eq!(b.receive_extend(1), -1); // past the end: zeros
        assert_eq!(b.consumed(), 9);
    }
}
