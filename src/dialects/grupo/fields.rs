//! Decoding of the group fields Grupo sends (shared by add and update).

use crate::domain::group::GroupDraft;
use crate::domain::user::UserDraft;
use crate::wire::form::FormFields;

const CUSTOM_PREFIX: &str = "custom_field_";

/// yes/no, in any case; anything else is refused.
fn yes_no(raw: &str) -> Option<bool> {
    if raw.eq_ignore_ascii_case("yes") {
        Some(true)
    } else if raw.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// Builds a draft from the request; what cannot be decoded is recorded in the
/// draft's errors under the domain's canonical field names.
pub fn decode_group(params: &FormFields) -> GroupDraft {
    let mut draft = GroupDraft {
        name: params.get("group_name").map(str::to_string),
        description: params.get("description").map(str::to_string),
        slug: params.get("slug").map(str::to_string),
        password: params.get("password").map(str::to_string),
        icon_url: params.get("group_icon_url").map(str::to_string),
        ..Default::default()
    };
    if let Some(raw) = params.get("group_category_id") {
        match raw.trim().parse::<i64>() {
            Ok(id) if id > 0 => draft.category_id = Some(id),
            _ => draft.errors.push(
                "category_id",
                "must be the id of a category (a positive whole number)",
            ),
        }
    }
    let flags: [(&str, &str, &mut Option<bool>); 4] = [
        ("secret_group", "secret", &mut draft.secret),
        ("unleavable", "unleavable", &mut draft.unleavable),
        ("pin_group", "pinned", &mut draft.pinned),
        (
            "password_protect",
            "password_protect",
            &mut draft.password_protect,
        ),
    ];
    let mut flag_errors = Vec::new();
    for (wire, canonical, slot) in flags {
        if let Some(raw) = params.get(wire) {
            match yes_no(raw) {
                Some(v) => *slot = Some(v),
                None => flag_errors.push(canonical),
            }
        }
    }
    for canonical in flag_errors {
        draft.errors.push(canonical, "must be yes or no");
    }
    let mut seen = Vec::new();
    for (key, value) in params.pairs().iter().rev() {
        let Some(suffix) = key.strip_prefix(CUSTOM_PREFIX) else {
            continue;
        };
        if seen.contains(key) {
            continue; // a later field of the same name already won
        }
        seen.push(key.clone());
        match suffix.parse::<i64>() {
            Ok(id) if id > 0 && suffix.bytes().all(|b| b.is_ascii_digit()) => {
                draft.custom_fields.push((id, value.clone()))
            }
            _ => draft.errors.push(
                key.clone(),
                "custom fields are named custom_field_<identifier>",
            ),
        }
    }
    draft.custom_fields.reverse();
    draft
}

/// Decodes Grupo's user fields (`email_address` is the email).
pub fn decode_user(params: &FormFields) -> UserDraft {
    UserDraft {
        full_name: params.get("full_name").map(str::to_string),
        username: params.get("username").map(str::to_string),
        email: params.get("email_address").map(str::to_string),
        password: params.get("password").map(str::to_string),
        ..Default::default()
    }
}
