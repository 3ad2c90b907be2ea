//! `likeness duplicates`: groups as text or JSON.

use std::process::ExitCode;

use anyhow::Result;
use likeness::dups::DupOptions;
use likeness::types::JsonPath;

use super::*;

pub(super) fn cmd_duplicates(cli: &Cli, opts: &DupOptions, json: bool) -> Result<ExitCode> {
    let e = query_engine(cli)?;
    let groups = e.duplicates(opts)?;
    if json {
        let g: Vec<_> = groups
            .iter()
            .map(|g| {
                serde_json::json!({
                    "tier": g.tier,
                    "files": g.files.iter().map(|f| JsonPath(&f.path)).collect::<Vec<_>>(),
                    "keep": JsonPath(&g.keeper().path),
                    "scores": {
                        "min_similarity": g.min_similarity,
                        "max_phash_distance": g.max_phash_distance,
                        "members": g.files.iter().map(|f| serde_json::json!({
                            "path": JsonPath(&f.path),
                            "similarity": f.similarity,
                            "phash_distance": f.phash_distance,
                            "agreement": f.agreement,
                            "tier": f.tier,
                            "relation": f.relation,
                            "proposed": f.proposed,
                            "reference": f.reference,
                        })).collect::<Vec<_>>(),
                    },
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "groups": g }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if groups.is_empty() {
        println!("{}", opts.tier.none_found());
    }
    for (i, g) in groups.iter().enumerate() {
        println!(
            "group {} · {:?} · {} files · min similarity {:.3}{}",
            i + 1,
            g.tier,
            g.files.len(),
            g.min_similarity,
            g.max_phash_distance
                .map_or(String::new(), |d| format!(" · pHash ≤ {d} bits"))
        );
        for f in &g.files {
            println!(
                "  {} {:.3} {:>14}  {}  ({}×{}, {})",
                if f.relation == likeness::dups::Relation::Keeper {
                    "keep "
                } else if f.proposed {
                    "trash"
                } else {
                    "     "
                },
                f.similarity,
                f.relation,
                f.path.display(),
                f.width,
                f.height,
                indicatif::HumanBytes(f.bytes)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
