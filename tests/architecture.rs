//! The layering rules docs/architecture.md states, checked on the source: the
//! doors (dialects, the console and SCIM) never reach the store; they call the service.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn doors_never_import_the_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for door in ["dialects", "console", "scim"] {
        rust_files(&root.join(door), &mut files);
    }
    assert!(files.len() > 20, "found the doors' sources");
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).expect("read");
            text.contains("crate::store") || text.contains("groupd::store")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "doors importing the store: {offenders:?}"
    );
}
