//! Wire dialects. Each decodes its own requests into service calls and encodes the
//! answers and errors in its own format. Dialects never call each other or the store.

pub mod activecampaign;
pub mod grupo;
pub mod rest;
