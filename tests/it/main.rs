//! Integration tests: one binary, real model, real photos from ../shared/data.

// A test fails loudly on purpose: unwrap is its assertion that a step works.
#![allow(clippy::unwrap_used)]

mod harness;

mod cli;
mod crash;
mod dups;
mod gui;
mod heif;
mod hostile;
mod incremental;
mod jpeg;
mod layout;
mod quality;
mod review;
mod thumbs;
mod worker;
