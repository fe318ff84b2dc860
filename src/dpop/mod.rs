//! DPoP (RFC 9449): the leaf modules, until the integration replaces this file.
#![allow(dead_code, unreachable_pub)]

pub(crate) mod nonce;
pub(crate) mod proof;
pub(crate) mod target;
