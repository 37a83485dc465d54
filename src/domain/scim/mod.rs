//! SCIM 2.0 (RFC 7643, RFC 7644) as pure values and rules: filters and PATCH
//! operations over a resource in its SCIM JSON form. Identity providers (Okta,
//! Microsoft Entra ID) provision users and groups with them; the SCIM door
//! turns resources to and from groupd's users and groups.

pub mod filter;
pub mod patch;

/// The PatchOp message schema.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
