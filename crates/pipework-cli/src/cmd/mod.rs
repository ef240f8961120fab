//! One file per subcommand.

pub(crate) mod completions;
pub(crate) mod flatmap;
pub(crate) mod generate;
pub(crate) mod man;
pub(crate) mod map;
pub(crate) mod recovery;
pub(crate) mod status;
