//! The soak's history (`entry`: one JSON line per operation) and its
//! checks (`check`), apart from the run (`e2e/soak/`) so that the checks'
//! own tests run with the library's.

pub mod check;
pub mod entry;
mod semaphore;
mod spans;

#[cfg(test)]
mod tests;
