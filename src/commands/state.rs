use crate::container::Store;
use crate::error::Result;

pub fn run(store: &Store, id: &str) -> Result<i32> {
    let dir = store.open_unlocked(id)?;
    let state = dir.read_state()?;
    let json = state.to_oci_json(state.status(&dir));
    println!(
        "{}",
        serde_json::to_string_pretty(&json).unwrap_or_default()
    );
    Ok(0)
}
