//! `ops`: tools an operator runs against a deployed bridge (or the local twin), kept out of the
//! Lambda binaries so they add nothing to the functions' size or cold start.
//!
//! [`replay`] re-delivers dead-lettered events to the handlers once the cause of their failure is
//! fixed; the handlers' idempotency (claims by message id, client tokens) is what makes that safe.
//! [`doctor`] checks a deployment with read-only calls and says how to fix what is wrong.
//! [`client`] adds the Handoff API's clients, rotates their keys and disables them.

pub mod client;
pub mod doctor;
pub mod replay;
