//! Integration tests: one binary, real model, real photos from ../shared/data.

mod harness;

mod cli;
mod crash;
mod dups;
mod gui;
mod hostile;
mod incremental;
mod jpeg;
mod quality;
mod thumbs;
mod worker;
