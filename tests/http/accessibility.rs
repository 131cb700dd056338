//! What pages give assistive technology and keyboards, as far as HTML shows
//! it: headings, landmarks, error summaries, feedback, the way back through a
//! feed. (The browser tests, tests/e2e, check the rest with axe-core.)

use reqwest::StatusCode;

use crate::helpers::*;

/// The levels of a page's headings, in order.
fn heading_levels(html: &str) -> Vec<u8> {
    html.match_indices("<h")
        .filter_map(|(at, _)| {
            let rest = &html.as_bytes()[at + 2..];
            match (rest.first(), rest.get(1)) {
                (Some(d @ b'1'..=b'6'), Some(b' ' | b'>')) => Some(d - b'0'),
                _ => None,
            }
        })
        .collect()
}

/// Fails unless `html` has one `h1`, first, and no heading deeper than one
/// level below the one before it.
fn assert_heading_outline(path: &str, html: &str) {
    let levels = heading_levels(html);
    assert_eq!(levels.first(), Some(&1), "{path}: {levels:?}");
    assert_eq!(
        levels.iter().filter(|&&l| l == 1).count(),
        1,
        "{path}: {levels:?}"
    );
    for pair in levels.windows(2) {
        assert!(pair[1] <= pair[0] + 1, "{path} skips a level: {levels:?}");
    }
}

fn assert_landmarks(path: &str, html: &str) {
    for landmark in [
        r##"<a class="skip-link" href="#main">"##,
        "<header class=\"site-header\">",
        "<nav class=\"site-nav\" aria-label=\"Main\">",
        "<main id=\"main\"",
        "<footer class=\"site-footer\">",
        r#"<a href="/api/docs">API explorer</a>"#,
    ] {
        assert!(html.contains(landmark), "{path}: no {landmark}");
    }
}

/// The part of a page from `start` on.
fn from<'a>(html: &'a str, start: &str) -> &'a str {
    &html[html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"))..]
}

const WITH_HEADINGS: &str = "# Part one\n\nText.\n\n## Detail\n\nMore.\n\n###### Deep";

#[tokio::test]
async fn every_page_has_one_h1_first_no_skipped_levels_and_its_landmarks() {
    let app = spawn_app().await;
    let visitor = app.new_browser();
    for path in ["/", "/login", "/signup", "/nowhere", "/u/nobody"] {
        let html = visitor.get_text(path).await;
        assert_heading_outline(path, &html);
        assert_landmarks(path, &html);
    }

    app.signed_up("alice").await;
    let id = app.publish("Headings inside", WITH_HEADINGS).await;
    for i in 0..20 {
        app.publish(&format!("Filler {i}"), "x").await;
    }
    let older = app.get_text("/").await;
    let older = older_link(&older).expect("a second page");
    for path in [
        "/".to_owned(),
        older,
        "/u/alice".into(),
        format!("/posts/{id}"),
        format!("/posts/{id}/edit"),
        format!("/posts/{id}/delete"),
        "/posts/new".into(),
        "/sessions".into(),
        "/settings".into(),
        "/settings/password".into(),
        "/settings/tokens".into(),
        format!("/posts/{}", uuid::Uuid::now_v7()),
    ] {
        let html = app.get_text(&path).await;
        assert_heading_outline(&path, &html);
        assert_landmarks(&path, &html);
    }

    // Forms sent back with errors, without JavaScript.
    let pages = [
        (
            "/posts",
            app.submit("/posts", &[("title", ""), ("body", "")]).await,
        ),
        (
            "/posts/edit",
            app.submit(
                &format!("/posts/{id}/edit"),
                &[("title", ""), ("body", "x")],
            )
            .await,
        ),
        (
            "/settings/password",
            app.submit(
                "/settings/password",
                &[("current_password", "wrong"), ("new_password", "short")],
            )
            .await,
        ),
        ("/signup", visitor.signup("x", "short").await),
        (
            "/login",
            visitor
                .submit(
                    "/login",
                    &[("username", "alice"), ("password", "wrong one")],
                )
                .await,
        ),
    ];
    for (path, resp) in pages {
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let html = resp.text().await.unwrap();
        assert_heading_outline(path, &html);
        assert_landmarks(path, &html);
    }
}

#[tokio::test]
async fn headings_written_in_a_post_come_below_its_title_wherever_it_stands() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app.publish("Headings inside", WITH_HEADINGS).await;

    // On its own page, the title is the h1 and the post's `#` an h2.
    let page = app.get_text(&format!("/posts/{id}")).await;
    let article = from(&page, "<article");
    assert!(article.contains(">Headings inside</a></h1>"), "{article}");
    assert!(
        article.contains("<h2>Part one</h2>") && article.contains("<h3>Detail</h3>"),
        "{article}"
    );
    // Written six levels deep right after a second level: one level below.
    assert!(article.contains("<h4>Deep</h4>"), "{article}");

    // In a feed the title is an h3 (under the feed's h2), the `#` an h4.
    for feed in ["/", "/u/alice"] {
        let html = app.get_text(feed).await;
        let article = from(&html, "<article");
        assert!(article.contains(">Headings inside</a></h3>"), "{feed}");
        assert!(
            article.contains("<h4>Part one</h4>") && article.contains("<h5>Detail</h5>"),
            "{feed}: {article}"
        );
    }

    // The API's HTML is the post standing alone, under its title.
    let post: serde_json::Value = app
        .get(&format!("/api/posts/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let body_html = post["body_html"].as_str().unwrap();
    assert!(body_html.starts_with("<h2>Part one</h2>"), "{body_html}");

    // Under htmx, a post swapped back into its own page stays the h1; into
    // a feed, an h3.
    let on_its_page = app
        .client
        .get(app.url(&format!("/posts/{id}")))
        .header("HX-Request", "true")
        .header("HX-Current-URL", app.url(&format!("/posts/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(on_its_page.contains("</a></h1>"), "{on_its_page}");
    let in_a_feed = app
        .client
        .get(app.url(&format!("/posts/{id}")))
        .header("HX-Request", "true")
        .header("HX-Current-URL", app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        in_a_feed.contains("</a></h3>") && in_a_feed.contains("<h4>Part one</h4>"),
        "{in_a_feed}"
    );
}

#[tokio::test]
async fn times_read_in_utc_until_a_script_shows_the_readers_clock() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app.publish("Timed", "x").await;
    let page = app.get_text(&format!("/posts/{id}")).await;
    let time = from(&page, r#"<time class="js-local-time" datetime=""#);
    let time = &time[..time.find("</time>").unwrap()];
    assert!(time.ends_with(" UTC"), "{time}");
    let sessions = app.get_text("/sessions").await;
    assert!(
        sessions.contains(r#"(<time class="js-local-time" datetime="#),
        "{sessions}"
    );
}

/// The error summary at the start of `form_id`'s form: checks that it comes
/// before the first field, is an alert, and returns the fields it links to.
fn summary_links(html: &str, form_id: &str) -> Vec<String> {
    let form = from(html, &format!(r#"<form id="{form_id}""#));
    let form = &form[..form.find("</form>").unwrap()];
    let summary_at = form
        .find(r#"class="error-summary" role="alert""#)
        .unwrap_or_else(|| panic!("no error summary: {form}"));
    let first_field = form.find("<div class=\"field").unwrap();
    assert!(summary_at < first_field, "the summary comes first: {form}");
    let summary = &form[summary_at..];
    let summary = &summary[..summary.find("</div>").unwrap()];
    summary
        .split(r##"<a href="#"##)
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

#[tokio::test]
async fn forms_with_errors_start_with_a_summary_linking_to_each_field_in_error() {
    let app = spawn_app().await;
    let visitor = app.new_browser();

    let html = visitor
        .submit(
            "/signup",
            &[
                ("username", "x"),
                ("password", PASSWORD),
                ("password_confirm", "not the same"),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    let links = summary_links(&html, "signup-form");
    assert_eq!(links, ["signup-username", "signup-password-confirm"]);
    for field in &links {
        let input = from(&html, &format!(r#"id="{field}""#));
        let input = &input[..input.find('>').unwrap()];
        assert!(input.contains(r#"aria-invalid="true""#), "{input}");
        assert!(
            input.contains(&format!("{field}-error")),
            "described by its error: {input}"
        );
        assert!(html.contains(&format!(r#"<p class="field__error" id="{field}-error">"#)));
    }

    app.signed_up("alice").await;
    let html = app
        .submit("/posts", &[("title", " "), ("body", "")])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        summary_links(&html, "post-form"),
        ["post-title", "post-body"]
    );

    let html = app
        .submit(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another fine passphrase"),
                ("new_password_confirm", "not the same"),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        summary_links(&html, "password-form"),
        ["new-password-confirm"]
    );

    // A refused login is about both fields: the summary leads to the first.
    let html = visitor
        .submit(
            "/login",
            &[("username", "alice"), ("password", "wrong one")],
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(summary_links(&html, "login-form"), ["login-username"]);
    for field in ["login-username", "login-password"] {
        let input = from(&html, &format!(r#"id="{field}""#));
        let input = &input[..input.find('>').unwrap()];
        assert!(
            input.contains(r#"aria-invalid="true" aria-describedby="login-error""#),
            "{input}"
        );
    }

    // A form without errors has no summary.
    assert!(!app.get_text("/posts/new").await.contains("error-summary"));
}

#[tokio::test]
async fn under_htmx_a_form_with_errors_comes_back_with_its_summary_and_marked_fields() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let resp = app
        .hx_submit("/posts", &[("title", ""), ("body", "kept")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<html"), "{html}");
    // The composer's heading is an h2 under the homepage's h1, its summary's an h3.
    assert!(
        html.contains(r#"<h2 class="form__title">New post</h2>"#),
        "{html}"
    );
    assert!(html.contains(r#"<h3 id="post-errors-title""#), "{html}");
    assert_eq!(summary_links(&html, "post-form"), ["post-title"]);
    assert!(html.contains(
        r#"id="post-title" name="title" value="" maxlength="120" autocomplete="off" aria-invalid="true" aria-describedby="post-title-error""#
    ));
}

#[tokio::test]
async fn older_pages_lead_back_to_newer_posts_and_the_last_says_it_is_the_end() {
    // More posts than one account may write in ten minutes.
    let app = spawn_app_with(&["--post-limit", "0"]).await;
    let visitor = app.new_browser();
    let empty = visitor.get_text("/").await;
    assert!(empty.contains("No posts yet."), "{empty}");
    assert!(!empty.contains("You've reached the end."), "{empty}");

    app.signed_up("alice").await;
    let mut published = Vec::new();
    for i in 0..45 {
        published.push(app.publish(&format!("Post {i}"), "text").await);
    }
    published.reverse(); // newest first

    let first = visitor.get_text("/").await;
    assert!(!first.contains("Newer posts"), "the newest page has none");
    assert!(!first.contains("You've reached the end."));
    let second_path = older_link(&first).unwrap();
    let second = visitor.get_text(&second_path).await;
    let third_path = older_link(&second).unwrap();
    let third = visitor.get_text(&third_path).await;
    assert_eq!(post_ids(&third), published[40..]);
    assert!(third.contains("You've reached the end."), "{third}");
    assert!(older_link(&third).is_none());

    // From the third page, "Newer posts" shows the second again...
    let newer = newer_link(&third).expect("a link to newer posts");
    assert!(newer.starts_with("/?after="), "{newer}");
    let back = visitor.get_text(&newer).await;
    assert_eq!(post_ids(&back), published[20..40]);
    assert_eq!(older_link(&back).as_deref(), Some(third_path.as_str()));
    // ...and from there, the newest page is the homepage itself.
    let newest = newer_link(&back).expect("newer still");
    let resp = visitor.get(&newest).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp).as_deref(), Some("/"));

    // A person's posts page the same way.
    let mine = app.get_text("/u/alice").await;
    let older = older_link(&mine).unwrap();
    let page = app.get_text(&older).await;
    let newer = newer_link(&page).unwrap();
    assert!(newer.starts_with("/u/alice?after="), "{newer}");
    let resp = app.get(&newer).await;
    assert_eq!(location(&resp).as_deref(), Some("/u/alice"));

    // Broken or contradictory links are a clear 400.
    for path in ["/?after=garbage", &format!("{second_path}&after=1_2")] {
        assert_eq!(
            visitor.get(path).await.status(),
            StatusCode::BAD_REQUEST,
            "{path}"
        );
    }
}

#[tokio::test]
async fn load_more_that_runs_out_says_it_is_the_end() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    for i in 0..25 {
        app.publish(&format!("Post {i}"), "text").await;
    }
    let home = app.get_text("/").await;
    let more = app.hx_get(&older_link(&home).unwrap()).await;
    let more = more.text().await.unwrap();
    assert_eq!(post_ids(&more).len(), 5);
    assert!(!more.contains("feed-more"), "{more}");
    assert!(
        more.contains(
            r#"<p id="feed-end" class="feed__end" tabindex="-1">You've reached the end.</p>"#
        ),
        "{more}"
    );
    assert!(!more.contains("Newer posts"), "not in the appended part");
}

#[tokio::test]
async fn settings_are_linked_from_the_header_and_list_what_can_be_changed() {
    let app = spawn_app().await;
    let resp = app.get("/settings").await;
    assert_eq!(location(&resp).as_deref(), Some("/login?next=/settings"));
    assert!(!app.get_text("/").await.contains(r#"href="/settings""#));

    app.signed_up("alice").await;
    let home = app.get_text("/").await;
    let nav = from(&home, "<nav class=\"site-nav\"");
    let nav = &nav[..nav.find("</nav>").unwrap()];
    assert!(
        nav.contains(r#"<a class="site-nav__link" href="/settings">Settings</a>"#),
        "{nav}"
    );
    let settings = app.get_text("/settings").await;
    assert!(settings.contains(r#"<a href="/settings/password">Password</a>"#));
    assert!(settings.contains(r#"<a href="/sessions">Sessions</a>"#));
}
