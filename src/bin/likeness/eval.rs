//! Retrieval-quality evaluation on a labelled folder: leave-one-out mAP and recall@k.
//!
//! Layout: every sub-folder of the evaluation folder is a class (searched recursively); image
//! files directly in the folder, or under a sub-folder named `_distractors`, are distractors:
//! they are ranked against but never used as queries. Each image of a class with at least two
//! members is a query against all other images (exact cosine ranking, no HNSW, so the figure
//! measures the descriptor, not the index).

use std::path::{Path, PathBuf};

use likeness::engine::Engine;
use likeness::error::{Error, Result};
use likeness::media::decode::{PathKind, classify_file};

/// The k of the reported recall@k.
pub const RECALL_KS: [usize; 3] = [1, 5, 10];

/// Evaluation result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EvalReport {
    /// Model id.
    pub model: String,
    /// Images embedded.
    pub images: usize,
    /// Images used as queries.
    pub queries: usize,
    /// Classes with ≥ 2 images.
    pub classes: usize,
    /// Distractor images.
    pub distractors: usize,
    /// Mean average precision over queries.
    pub map: f64,
    /// `(k, recall@k)`: fraction of queries with at least one same-class image in the top k
    /// (the Recall@K of the metric-learning literature, e.g. Song et al., CVPR 2016).
    pub recall: Vec<(usize, f64)>,
    /// Images that could not be embedded, with the reason.
    pub failed: Vec<(PathBuf, String)>,
}

/// Image files of a labelled folder with their class (`None` = distractor).
pub fn collect_labelled(dir: &Path) -> Result<Vec<(PathBuf, Option<String>)>> {
    if !dir.is_dir() {
        return Err(Error::NotAFolder(dir.to_owned()));
    }
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        let e = e.map_err(|e| Error::Invalid(e.to_string()))?;
        if !e.file_type().is_file() || classify_file(e.path()) != PathKind::Image {
            continue;
        }
        let rel = e.path().strip_prefix(dir).unwrap_or(e.path());
        let mut comps = rel.components();
        let first = comps
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        let label = match (first, comps.next()) {
            (Some(f), Some(_)) if f != "_distractors" => Some(f),
            _ => None,
        };
        out.push((e.path().to_path_buf(), label));
    }
    Ok(out)
}

/// Leave-one-out metrics for L2-normalised `vectors` with `labels` (`None` = distractor).
/// Returns `(mAP, recall@k for each k in RECALL_KS, number of queries)`.
pub fn leave_one_out(vectors: &[Vec<f32>], labels: &[Option<usize>]) -> (f64, Vec<f64>, usize) {
    let n = vectors.len();
    let mut sum_ap = 0.0;
    let mut hits = vec![0usize; RECALL_KS.len()];
    let mut queries = 0;
    for i in 0..n {
        let Some(c) = labels[i] else { continue };
        let relevant = labels
            .iter()
            .enumerate()
            .filter(|(j, l)| *j != i && **l == Some(c))
            .count();
        if relevant == 0 {
            continue;
        }
        queries += 1;
        let mut ranked: Vec<(f32, bool)> = (0..n)
            .filter(|j| *j != i)
            .map(|j| (dot(&vectors[i], &vectors[j]), labels[j] == Some(c)))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (mut found, mut ap) = (0usize, 0.0f64);
        for (rank, (_, rel)) in ranked.iter().enumerate() {
            if *rel {
                found += 1;
                ap += found as f64 / (rank + 1) as f64;
            }
        }
        sum_ap += ap / relevant as f64;
        for (h, k) in hits.iter_mut().zip(RECALL_KS) {
            if ranked.iter().take(k).any(|r| r.1) {
                *h += 1;
            }
        }
    }
    let q = queries.max(1) as f64;
    (
        sum_ap / q,
        hits.iter().map(|h| *h as f64 / q).collect(),
        queries,
    )
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Embed every image of the labelled folder `dir` with the engine's model and compute
/// leave-one-out mAP and recall@k.
pub fn evaluate(engine: &mut Engine, dir: &Path) -> Result<EvalReport> {
    let files = collect_labelled(dir)?;
    let paths: Vec<PathBuf> = files.iter().map(|f| f.0.clone()).collect();
    let embedded = engine.embed_files(&paths)?;
    let mut names: Vec<String> = Vec::new();
    let (mut vectors, mut labels, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for ((path, label), e) in files.into_iter().zip(embedded) {
        match e {
            Ok(v) => {
                vectors.push(v);
                labels.push(label.map(|l| match names.iter().position(|n| *n == l) {
                    Some(i) => i,
                    None => {
                        names.push(l);
                        names.len() - 1
                    }
                }));
            }
            Err(reason) => failed.push((path, reason)),
        }
    }
    let (map, recall, queries) = leave_one_out(&vectors, &labels);
    let classes = (0..names.len())
        .filter(|c| labels.iter().filter(|l| **l == Some(*c)).count() >= 2)
        .count();
    Ok(EvalReport {
        model: engine.model_id().to_owned(),
        images: vectors.len(),
        queries,
        classes,
        distractors: labels.iter().filter(|l| l.is_none()).count(),
        map,
        recall: RECALL_KS.iter().copied().zip(recall).collect(),
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_imperfect_rankings() {
        // Two classes on two axes, one distractor in between.
        let v = |x: f32, y: f32| {
            let n = (x * x + y * y).sqrt();
            vec![x / n, y / n]
        };
        let vecs = vec![
            v(1.0, 0.0),
            v(0.9, 0.1),
            v(0.0, 1.0),
            v(0.1, 0.9),
            v(0.7, 0.7),
        ];
        let labels = vec![Some(0), Some(0), Some(1), Some(1), None];
        let (map, recall, q) = leave_one_out(&vecs, &labels);
        assert_eq!(q, 4);
        assert!((map - 1.0).abs() < 1e-9);
        assert_eq!(recall, vec![1.0, 1.0, 1.0]);

        // Swap one label: the ranking no longer puts same-class first for everyone.
        let labels = vec![Some(0), Some(1), Some(1), Some(0), None];
        let (map, recall, _) = leave_one_out(&vecs, &labels);
        assert!(map < 0.6, "mAP {map}");
        assert!(recall[0] < 0.5);
    }
}
