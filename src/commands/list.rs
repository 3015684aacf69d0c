use std::os::unix::fs::MetadataExt;

use crate::cli::{ListArgs, ListFormat};
use crate::container::Store;
use crate::error::Result;

/// Go's text/tabwriter as runc configures it (minwidth 12, padding 3, spaces).
fn tabulate(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}

/// `explicit_root`: the user named `--root`, so it must exist.
pub fn run(store: &Store, a: &ListArgs, explicit_root: bool) -> Result<i32> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut items = Vec::new();
    for id in store.ids(!explicit_root)? {
        // A container whose state cannot be read is skipped: the others still list.
        let Ok(dir) = store.open_unlocked(&id) else {
            continue;
        };
        let state = match dir.read_state() {
            Ok(s) => s,
            Err(e) => {
                crate::logging::warn(&e.to_string());
                continue;
            }
        };
        let uid = std::fs::metadata(&dir.path).map(|m| m.uid()).unwrap_or(0);
        let owner = crate::user::name_of(&passwd, uid).unwrap_or_else(|| format!("#{uid}"));
        let mut v = state.to_oci_json(state.status(&dir));
        v["owner"] = owner.into();
        items.push(v);
    }
    match (a.quiet, a.format) {
        (true, _) => items
            .iter()
            .for_each(|v| println!("{}", v["id"].as_str().unwrap_or_default())),
        (false, ListFormat::Json) => {
            let json = if items.is_empty() {
                serde_json::Value::Null
            } else {
                items.into()
            };
            println!("{json}");
        }
        (false, ListFormat::Table) => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec()];
            for v in &items {
                rows.push(
                    ["id", "pid", "status", "bundle", "created", "owner"]
                        .iter()
                        .map(|k| match &v[*k] {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect(),
                );
            }
            print!("{}", tabulate(&rows));
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tabwriter_layout() {
        let rows = vec![
            vec!["ID".to_string(), "PID".into(), "STATUS".into()],
            vec!["a-much-longer-id".into(), "1".into(), "running".into()],
        ];
        assert_eq!(
            super::tabulate(&rows),
            "ID                 PID         STATUS\na-much-longer-id   1           running\n"
        );
    }
}
