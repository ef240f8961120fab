#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]
#![warn(missing_docs)]
#![deny(unused_must_use)]

pub mod batch;
#[doc(hidden)]
pub mod internal;
pub mod iter;
#[cfg(feature = "jsonl")]
#[cfg_attr(docsrs, doc(cfg(feature = "jsonl")))]
pub mod jsonl;
pub mod pipeline;
#[cfg(feature = "stream")]
#[cfg_attr(docsrs, doc(cfg(feature = "stream")))]
pub mod stream;

/// The error user code returns (a step, a call, a source): any error that
/// can cross threads. Every module and `pipework-dataflow` use this one.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The workspace README's Rust snippets, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct WorkspaceReadme;
