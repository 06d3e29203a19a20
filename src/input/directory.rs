//! Reads `directory.toml`: the units (departments, communes) with their addresses, and groups.

use std::collections::HashMap;
use std::ops::Range;

use super::reader::Reader;
use super::tree::Node;
use crate::model::{Directory, Group, Unit};

pub fn read_directory(r: &mut Reader<'_>, root: &Node) -> Directory {
    let mut directory = Directory::default();
    let Some(top) = r.table(root, "", &["units", "groups", "report_to"]) else {
        return directory;
    };
    let mut ids: HashMap<String, Range<usize>> = HashMap::new();
    let mut check_unique = |r: &mut Reader<'_>, id: &str, span: Range<usize>, path: &str| {
        if ids.contains_key(id) {
            r.report(
                &span,
                path,
                format!("mã \"{id}\" bị trùng (mã đơn vị và mã nhóm phải khác nhau)"),
            );
        } else {
            ids.insert(id.to_string(), span);
        }
    };

    for (path, node) in top.list(r, "units", true) {
        // Offices keep a unit's phone, address, head and a note in the same file; vanban does
        // not use them, but a directory that has them is not wrong.
        let Some(t) = r.table(
            node,
            &path,
            &[
                "id", "name", "short", "email", "phone", "address", "head", "note",
            ],
        ) else {
            continue;
        };
        for kept in ["phone", "address", "head", "note"] {
            t.opt_string(r, kept);
        }
        let id = t.string(r, "id");
        if let Some(id) = &id {
            let span = t.get("id").map(|n| n.span.clone()).unwrap_or_default();
            if !is_valid_id(id) {
                r.report(
                    &span,
                    &t.key_path("id"),
                    format!("mã \"{id}\" chỉ được gồm chữ thường không dấu, số, '-' và '_'"),
                );
            }
            check_unique(r, id, span, &t.key_path("id"));
        }
        let name = t.string(r, "name");
        let short = t.opt_string(r, "short");
        let emails = t.strings(r, "email", true);
        if t.get("email").is_some() && emails.is_empty() {
            let span = t.get("email").map(|n| n.span.clone()).unwrap_or_default();
            r.report(
                &span,
                &t.key_path("email"),
                "cần ít nhất một địa chỉ thư điện tử",
            );
        }
        for (email, span) in &emails {
            if let Err(e) = email.parse::<lettre::Address>() {
                r.report(
                    span,
                    &t.key_path("email"),
                    match &id {
                        Some(id) => format!(
                            "đơn vị \"{id}\": địa chỉ thư điện tử không hợp lệ \"{email}\" ({})",
                            crate::vi::errors::address_error(&e)
                        ),
                        None => format!(
                            "địa chỉ thư điện tử không hợp lệ \"{email}\" ({})",
                            crate::vi::errors::address_error(&e)
                        ),
                    },
                );
            }
        }
        if let (Some(id), Some(name)) = (id, name) {
            directory.units.push(Unit {
                short: short.unwrap_or_else(|| name.clone()),
                id,
                name,
                emails: emails.into_iter().map(|(e, _)| e).collect(),
            });
        }
    }

    let mut member_spans = Vec::new();
    for (path, node) in top.list(r, "groups", false) {
        let Some(t) = r.table(node, &path, &["id", "name", "members"]) else {
            continue;
        };
        let id = t.string(r, "id");
        if let Some(id) = &id {
            let span = t.get("id").map(|n| n.span.clone()).unwrap_or_default();
            // Group ids are written in the same places as unit ids (tasks' to/with, report_to).
            if !is_valid_id(id) {
                r.report(
                    &span,
                    &t.key_path("id"),
                    format!("mã \"{id}\" chỉ được gồm chữ thường không dấu, số, '-' và '_'"),
                );
            }
            check_unique(r, id, span, &t.key_path("id"));
        }
        let name = t.string(r, "name");
        let members = t.strings(r, "members", true);
        for (i, (member, span)) in members.iter().enumerate() {
            if members[..i].iter().any(|(m, _)| m == member) {
                r.report(
                    span,
                    &t.key_path("members"),
                    format!("đơn vị \"{member}\" được nêu hai lần trong nhóm"),
                );
            }
        }
        if t.get("members").is_some() && members.is_empty() {
            let span = t.get("members").map(|n| n.span.clone()).unwrap_or_default();
            r.report(
                &span,
                &t.key_path("members"),
                "nhóm phải có ít nhất một đơn vị",
            );
        }
        member_spans.push((t.key_path("members"), members.clone()));
        if let (Some(id), Some(name)) = (id, name) {
            directory.groups.push(Group {
                id,
                name,
                members: members.into_iter().map(|(m, _)| m).collect(),
            });
        }
    }
    // Members must be units (not groups): a group of groups would make "whose task is this" ambiguous.
    for (path, members) in member_spans {
        for (member, span) in members {
            if directory.unit(&member).is_none() {
                let hint = super::diagnostics::did_you_mean(
                    &member,
                    directory.units.iter().map(|u| u.id.as_str()),
                )
                .map(|c| format!(" (có phải là \"{c}\"?)"))
                .unwrap_or_default();
                r.report(
                    &span,
                    &path,
                    format!("không có đơn vị nào mã \"{member}\" trong danh bạ{hint}"),
                );
            }
        }
    }

    if let Some(node) = top.get("report_to") {
        let report_to = top.opt_string(r, "report_to");
        if let Some(group) = &report_to
            && directory.group(group).is_none()
        {
            r.report(
                &node.span,
                "report_to",
                format!("không có nhóm nào mã \"{group}\" để nhận báo cáo"),
            );
        }
        directory.report_to = report_to;
    } else if directory.group(REPORT_TO_GROUP).is_some() {
        // DESIGN.md's other reading of "a group `report_to`": a group with that id.
        directory.report_to = Some(REPORT_TO_GROUP.to_string());
    }
    directory
}

/// The id of the group that receives the review report when no top-level `report_to` names one.
pub const REPORT_TO_GROUP: &str = "report_to";

/// Ids appear in file names, message ids and ledger keys: keep them plain ASCII.
fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::tree::{Source, parse_toml};

    #[test]
    fn the_fields_offices_keep_are_accepted_and_still_typed() {
        let text = "[[units]]\nid = \"quang-tan\"\nname = \"Xã Quảng Tân\"\n\
                    email = \"quangtan@example.vn\"\nphone = \"0203 3880 123\"\n\
                    address = \"Thôn 1, xã Quảng Tân\"\nhead = \"Nguyễn Văn Bình\"\n\
                    note = \"đổi địa chỉ thư từ tháng 7\"\n";
        let source = Source::new("directory.toml", text);
        let root = parse_toml(&source).unwrap();
        let mut r = Reader::new(&source);
        let directory = read_directory(&mut r, &root);
        assert!(r.problems.is_empty(), "{}", r.problems);
        assert_eq!(directory.units.len(), 1);

        let source = Source::new(
            "directory.toml",
            text.replace("\"0203 3880 123\"", "2033880123"),
        );
        let root = parse_toml(&source).unwrap();
        let mut r = Reader::new(&source);
        read_directory(&mut r, &root);
        assert_eq!(r.problems.len(), 1, "{}", r.problems);
        assert!(r.problems.0[0].path.ends_with("phone"), "{}", r.problems);
    }
}
