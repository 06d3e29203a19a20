//! The HTML pages: Tera templates and the stylesheet and script, all compiled into the binary
//! (templates/web/), and the context every page gets (who is signed in, the CSRF token).

use axum::response::Html;
use serde_json::{Value, json};
use tera::{Context, Tera};

use super::WebError;
use super::auth::Permission;
use super::sessions::SignedIn;

/// The page templates, by name. HTML files: tera escapes every value put into them.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/web/base.html")),
    ("login.html", include_str!("../../templates/web/login.html")),
    (
        "periods.html",
        include_str!("../../templates/web/periods.html"),
    ),
    (
        "upload.html",
        include_str!("../../templates/web/upload.html"),
    ),
    (
        "period.html",
        include_str!("../../templates/web/period.html"),
    ),
    (
        "preview.html",
        include_str!("../../templates/web/preview.html"),
    ),
    ("users.html", include_str!("../../templates/web/users.html")),
    ("table.html", include_str!("../../templates/web/table.html")),
];

pub const STYLESHEET: &str = include_str!("../../templates/web/static/app.css");
pub const SCRIPT: &str = include_str!("../../templates/web/static/app.js");

pub struct Pages {
    tera: Tera,
}

impl Pages {
    pub fn new() -> Result<Self, String> {
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.add_raw_templates(TEMPLATES.iter().copied())
            .map_err(|e| e.to_string())?;
        Ok(Self { tera })
    }

    /// Renders `name` with `data` (an object) plus, when signed in, `me` and `csrf`.
    pub fn render(
        &self,
        name: &str,
        who: Option<&SignedIn>,
        data: Value,
    ) -> Result<Html<String>, WebError> {
        let mut context = Context::from_serialize(&data)
            .map_err(|e| WebError::Internal(format!("Lỗi mẫu trang {name}: {e}")))?;
        match who {
            Some(who) => {
                context.insert("me", &me(who));
                context.insert("csrf", &who.csrf);
            }
            None => {
                context.insert("me", &false);
                context.insert("csrf", "");
            }
        }
        self.tera
            .render(name, &context)
            .map(Html)
            .map_err(|e| WebError::Internal(format!("Lỗi mẫu trang {name}: {e:?}")))
    }
}

fn me(who: &SignedIn) -> Value {
    json!({
        "name": who.user.name,
        "role": who.role().as_str(),
        "role_label": who.role().label_vi(),
        "can_prepare": Permission::Prepare.allowed(who.role()),
        "can_admin": Permission::Administer.allowed(who.role()),
        "can_approve": Permission::Approve.allowed(who.role()),
    })
}

/// HTML-escapes text for the few pages built without a template (errors).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_escapes_values() {
        let pages = Pages::new().unwrap();
        let html = pages
            .render(
                "login.html",
                None,
                json!({"message": "<script>x</script>", "username": "a\"b", "login_token": "t"}),
            )
            .unwrap()
            .0;
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"), "{html}");
        assert!(!html.contains("<script>x"), "{html}");
        assert_eq!(escape("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }
}
