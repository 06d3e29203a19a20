//! Workflows: the actions that take several steps of `issue` and `deliver` (a send: plan,
//! approval, numbering, signing, composing, filing, dispatch), each one function that calls
//! named phases in order. The command line, the web page and the service call the same ones.

pub mod send;
