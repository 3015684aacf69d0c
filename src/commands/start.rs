use crate::container::{lifecycle, Store};
use crate::error::Result;

pub fn run(store: &Store, id: &str) -> Result<i32> {
    lifecycle::start(store, id)?;
    Ok(0)
}
