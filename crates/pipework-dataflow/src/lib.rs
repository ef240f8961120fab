#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]
#![warn(missing_docs)]
#![deny(unused_must_use)]

pub mod connectors;
pub mod inputs;
pub mod outputs;
mod routing;
