//! The message of a caught panic, for the errors every module of every
//! crate reports when user code panics.

use std::any::Any;

/// The panic's message when its payload is a string (as `panic!` makes it),
/// else `"<non-string panic payload>"`.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}
