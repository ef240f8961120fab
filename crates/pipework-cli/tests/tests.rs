//! Integration tests of the `pipework` binary, all in one test binary: each
//! test writes its input and test commands into a scratch directory and runs
//! the real binary there.

mod support;

mod crash_campaign;
mod exact_numbers;
mod field_order;
mod flatmap;
mod generate;
mod inputs;
mod install;
mod liveness;
mod map;
mod paid_calls;
mod process_tree;
mod recovery;
mod regression;
mod resume;
mod resume_checks;
mod status;
