//! The use cases: what the skins call, in the words of the domain. They
//! take the store and domain values, and know nothing of HTTP.

pub mod accounts;
pub mod export;
pub mod mail;
pub mod moderation;
pub mod notices;
pub mod passwords;
pub mod posts;
pub mod recovery;
pub mod sessions;
pub mod throttle;
pub mod tokens;
