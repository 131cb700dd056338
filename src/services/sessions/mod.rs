//! Sessions as a person and an operator see them: the list of one's
//! sessions, and the purge of expired ones.

pub mod listing;
pub mod purge;
