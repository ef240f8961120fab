//! What pipework's crates share for handling failure and comparing keys:
//! not part of the API.
//!
//! `pipework-dataflow` and the `pipework` CLI report user-code panics and
//! recover locks the same way the core library does, and the CLI's `status`
//! compares keys as the library does; this module is their one home. It is public only so the other crates of the workspace can use
//! it, hidden from the docs, and may change in any release.

mod caught;
mod first_error;
#[cfg(feature = "jsonl")]
mod key_text;
mod lock;
mod panic_message;

pub use self::caught::caught;
pub use self::first_error::FirstError;
#[cfg(feature = "jsonl")]
pub use self::key_text::{key_text, parse_value};
pub use self::lock::lock;
pub use self::panic_message::panic_message;
