//! What handlers receive.
