use crate::cli::DeleteArgs;
use crate::container::{lifecycle, Store};
use crate::error::Result;

pub fn run(store: &Store, a: &DeleteArgs) -> Result<i32> {
    lifecycle::delete(store, &a.id, a.force)?;
    Ok(0)
}
