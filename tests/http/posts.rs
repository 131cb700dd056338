//! Posts: create, read, edit, delete, the feed and its pages, with and
//! without htmx.

use std::collections::HashSet;

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn a_person_publishes_a_post_and_reads_it_on_its_page() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let form = app.get("/posts/new").await;
    assert_eq!(form.status(), StatusCode::OK);
    let form = form.text().await.unwrap();
    assert!(
        form.contains(r#"<form id="post-form""#) && form.contains(r#"action="/posts""#),
        "{form}"
    );

    let id = app
        .publish("  Hello, Tangerine  ", "  The *first* post.  ")
        .await;
    let page = app.get(&format!("/posts/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    // On its own page, the title is the page's heading.
    assert!(
        page.contains(">Hello, Tangerine</a></h1>"),
        "trimmed title: {page}"
    );
    assert!(page.contains("<p>The <em>first</em> post.</p>"), "{page}");
    assert!(
        page.contains(r#"<time class="js-local-time" datetime=""#),
        "{page}"
    );
    assert_eq!(app.count("posts").await, 1);
}

#[tokio::test]
async fn a_new_post_tops_the_feed_that_everyone_reads() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let first = app.publish("First", "one").await;
    let second = app.publish("Second", "two").await;
    let anonymous = app.new_browser();
    let home = anonymous.get_text("/").await;
    assert_eq!(post_ids(&home), vec![second, first]);
    assert!(home.contains(r#"href="/u/alice""#));
    assert!(!home.contains(">Edit</a>"), "visitors cannot edit");
}

#[tokio::test]
async fn logged_out_the_composer_sends_to_login_and_back() {
    let app = spawn_app().await;
    app.new_browser().signed_up("alice").await;
    let resp = app.get("/posts/new").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp).as_deref(), Some("/login?next=/posts/new"));

    let hx = app.hx_get("/posts/new").await;
    assert_eq!(hx.status(), StatusCode::OK);
    assert_eq!(
        header_of(&hx, "hx-redirect").as_deref(),
        Some("/login?next=/posts/new")
    );
    assert!(
        hx.text().await.unwrap().is_empty(),
        "no login form pasted into a fragment"
    );

    let login = app
        .submit(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("next", "/posts/new"),
            ],
        )
        .await;
    assert_eq!(location(&login).as_deref(), Some("/posts/new"));
    assert_eq!(app.get("/posts/new").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_post_sent_without_a_session_leads_to_login_and_writes_nothing() {
    let app = spawn_app().await;
    let token = app.csrf_token().await;
    let resp = app
        .client
        .post(app.url("/posts"))
        .header("Referer", app.url("/"))
        .form(&[("title", "t"), ("body", "b"), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(location(&resp).unwrap().starts_with("/login"));
    assert_eq!(app.count("posts").await, 0);
}

#[tokio::test]
async fn under_htmx_publishing_answers_the_post_and_an_empty_composer() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let composer = app.hx_get("/posts/new").await;
    assert_eq!(header_of(&composer, "vary").as_deref(), Some("HX-Request"));
    let composer = composer.text().await.unwrap();
    assert!(!composer.contains("<html"));
    assert!(
        composer.contains(r##"hx-post="/posts" hx-target="#feed" hx-swap="afterbegin""##),
        "{composer}"
    );

    let resp = app
        .hx_submit("/posts", &[("title", "Live"), ("body", "no page load")])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header_of(&resp, "vary").as_deref(), Some("HX-Request"));
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<html"), "{html}");
    assert_eq!(post_ids(&html).len(), 1, "{html}");
    assert!(
        html.trim_start().starts_with("<article"),
        "the post comes first: {html}"
    );
    assert!(
        html.contains(r#"<form id="post-form""#) && html.contains(r#"hx-swap-oob="true""#),
        "{html}"
    );
    assert!(
        html.contains(r#"name="title" value="""#),
        "the composer is empty again: {html}"
    );
    assert_eq!(app.count("posts").await, 1);
}

#[tokio::test]
async fn invalid_posts_answer_422_inline_keeping_what_was_typed() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let long_title = "t".repeat(121);
    let resp = app
        .submit(
            "/posts",
            &[("title", &long_title), ("body", "kept <b>text</b>")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = resp.text().await.unwrap();
    assert!(html.contains("at most 120 characters"), "{html}");
    assert!(html.contains(&long_title), "{html}");
    assert!(html.contains("kept &lt;b&gt;text&lt;&#x2f;b&gt;"), "{html}");

    let resp = app
        .hx_submit("/posts", &[("title", "kept title"), ("body", "   ")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        header_of(&resp, "hx-retarget").as_deref(),
        Some("#post-form")
    );
    assert_eq!(header_of(&resp, "hx-reswap").as_deref(), Some("outerHTML"));
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<html"));
    assert!(html.contains("Write something in the post."), "{html}");
    assert!(html.contains(r#"value="kept title""#), "{html}");
    assert_eq!(app.count("posts").await, 0);
}

#[tokio::test]
async fn titles_take_120_characters_and_bodies_10000() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    app.publish(&"é".repeat(120), &"b".repeat(10_000)).await;
    let resp = app
        .submit("/posts", &[("title", "ok"), ("body", &"b".repeat(10_001))])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("at most 10000 characters")
    );
    assert_eq!(app.count("posts").await, 1);
}

#[tokio::test]
async fn a_post_page_and_its_fragment() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app.publish("Title", "Body").await;
    let page = app.get(&format!("/posts/{id}")).await;
    assert_eq!(header_of(&page, "vary").as_deref(), Some("HX-Request"));
    assert!(page.text().await.unwrap().contains("<!doctype html>"));
    let fragment = app
        .hx_get(&format!("/posts/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        fragment
            .trim_start()
            .starts_with(&format!(r#"<article id="post-{id}""#)),
        "{fragment}"
    );
}

#[tokio::test]
async fn unknown_and_malformed_post_ids_are_404() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    for path in [
        "/posts/0193a0a0-0000-7000-8000-000000000000",
        "/posts/not-a-uuid",
        "/posts/'%20OR%201=1",
        "/posts/0193a0a0-0000-7000-8000-000000000000/edit",
        "/posts/nope/edit",
    ] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let resp = app.submit("/posts/nope/delete", &[]).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_author_edits_a_post_without_javascript() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app.publish("Before", "old body").await;
    let form = app.get_text(&format!("/posts/{id}/edit")).await;
    assert!(
        form.contains(r#"value="Before""#) && form.contains(">old body</textarea>"),
        "{form}"
    );

    let resp = app
        .submit(
            &format!("/posts/{id}/edit"),
            &[("title", "After"), ("body", "new **body**")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), Some(format!("/posts/{id}")));
    let page = app.get_text(&format!("/posts/{id}")).await;
    assert!(
        page.contains(">After</a>") && page.contains("<strong>body</strong>"),
        "{page}"
    );
    assert!(
        page.contains(r#"(edited <time class="js-local-time" datetime="#),
        "{page}"
    );
}

#[tokio::test]
async fn under_htmx_editing_swaps_the_post_for_a_form_and_back() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app.publish("Before", "old body").await;
    let form = app
        .hx_get(&format!("/posts/{id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        form.trim_start()
            .starts_with(&format!(r#"<form id="post-{id}""#)),
        "the form takes the post's place: {form}"
    );
    assert!(
        form.contains(&format!(r##"hx-get="/posts/{id}" hx-target="#post-{id}""##)),
        "cancel: {form}"
    );

    let saved = app
        .hx_submit(
            &format!("/posts/{id}/edit"),
            &[("title", "After"), ("body", "new")],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let saved = saved.text().await.unwrap();
    assert!(
        saved
            .trim_start()
            .starts_with(&format!(r#"<article id="post-{id}""#)),
        "{saved}"
    );
    assert!(saved.contains(">After</a>"));

    let invalid = app
        .hx_submit(
            &format!("/posts/{id}/edit"),
            &[("title", ""), ("body", "typed")],
        )
        .await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let invalid = invalid.text().await.unwrap();
    assert!(
        invalid.contains("Give the post a title.") && invalid.contains(">typed</textarea>"),
        "{invalid}"
    );
    assert!(
        app.get_text(&format!("/posts/{id}"))
            .await
            .contains(">After</a>"),
        "nothing changed"
    );
}

#[tokio::test]
async fn only_the_author_may_edit_or_delete() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app.publish("Alice's", "mine").await;
    let bob = app.new_browser();
    bob.signed_up("bob").await;
    assert!(!bob.get_text("/").await.contains(">Edit</a>"));

    assert_eq!(
        bob.get(&format!("/posts/{id}/edit")).await.status(),
        StatusCode::FORBIDDEN
    );
    let edit = bob
        .submit(
            &format!("/posts/{id}/edit"),
            &[("title", "Bob's"), ("body", "x")],
        )
        .await;
    assert_eq!(edit.status(), StatusCode::FORBIDDEN);
    let delete = bob.submit(&format!("/posts/{id}/delete"), &[]).await;
    assert_eq!(delete.status(), StatusCode::FORBIDDEN);
    let token = bob.csrf_token().await;
    let hx_delete = bob
        .client
        .delete(bob.url(&format!("/posts/{id}")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(hx_delete.status(), StatusCode::FORBIDDEN);

    let page = app.get_text(&format!("/posts/{id}")).await;
    assert!(
        page.contains(">Alice&#x27;s</a>") && page.contains("<p>mine</p>"),
        "{page}"
    );
    assert_eq!(app.count("posts").await, 1);
}

/// A post's article is rendered once per version in two forms; each
/// reader gets theirs, whoever asked first, on every page that shows it.
#[tokio::test]
async fn the_author_and_a_reader_each_see_their_own_form_of_a_cached_post() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let bob = app.new_browser();
    bob.signed_up("bob").await;
    let anonymous = app.new_browser();
    let first = app.publish("First", "one").await;
    let edit_link = |id: &str| format!("href=\"/posts/{id}/edit\"");

    // A reader renders the card first, then the author reads it from the cache.
    assert!(!bob.get_text("/").await.contains(&edit_link(&first)));
    for path in [
        "/".to_string(),
        format!("/posts/{first}"),
        "/u/alice".into(),
    ] {
        assert!(
            app.get_text(&path).await.contains(&edit_link(&first)),
            "{path}"
        );
        assert!(
            !bob.get_text(&path).await.contains(&edit_link(&first)),
            "{path}"
        );
        assert!(
            !anonymous.get_text(&path).await.contains(">Edit</a>"),
            "{path}"
        );
    }

    // And the other way round, for a new post and for an edited one.
    let second = app.publish("Second", "two").await;
    let edited = app
        .submit(
            &format!("/posts/{first}/edit"),
            &[("title", "First, edited"), ("body", "one!")],
        )
        .await;
    assert!(edited.status().is_redirection());
    let home = app.get_text("/").await;
    assert!(home.contains(&edit_link(&first)) && home.contains(&edit_link(&second)));
    assert!(home.contains("First, edited"), "{home}");
    let home = bob.get_text("/").await;
    assert!(
        !home.contains(">Edit</a>") && home.contains("First, edited"),
        "{home}"
    );
}

#[tokio::test]
async fn deleting_without_javascript_asks_first_on_a_page_of_its_own() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app.publish("Doomed <3", "bye").await;

    // The feed's Delete is a link to that page (htmx turns it into a DELETE).
    let feed = app.get_text("/").await;
    assert!(
        feed.contains(&format!(
            r#"href="/posts/{id}/delete" hx-delete="/posts/{id}""#
        )),
        "{feed}"
    );

    let resp = app.get(&format!("/posts/{id}/delete")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains(&format!(r#"method="post" action="/posts/{id}/delete""#)),
        "{page}"
    );
    assert!(
        page.contains("“Doomed &lt;3” will be gone for good"),
        "{page}"
    );
    assert_eq!(csrf_token_in(&page), Some(app.csrf_token().await));
    assert_eq!(app.count("posts").await, 1, "asking deletes nothing");

    // Its form deletes the post.
    let token = csrf_token_in(&page).unwrap();
    let resp = app
        .post_form(&format!("/posts/{id}/delete"), &[("csrf_token", &token)])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.count("posts").await, 0);
}

#[tokio::test]
async fn the_delete_page_is_for_the_author_only() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app.publish("Alice's", "mine").await;
    let bob = app.new_browser();
    bob.signed_up("bob").await;
    assert_eq!(
        bob.get(&format!("/posts/{id}/delete")).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&format!("/posts/{}/delete", uuid::Uuid::now_v7()))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let anonymous = app.new_browser();
    let resp = anonymous.get(&format!("/posts/{id}/delete")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&resp),
        Some(format!("/login?next=/posts/{id}/delete"))
    );
}

/// The author's controls carry no token: they are the same for every
/// session, so they are cached with the post (and a page holds the token
/// once, in the log-out form, rather than once per post).
#[tokio::test]
async fn a_feed_holds_the_token_once_whoever_wrote_its_posts() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    for n in 0..3 {
        app.publish(&format!("Post {n}"), "text").await;
    }
    let feed = app.get_text("/").await;
    assert_eq!(feed.matches(">Delete</a>").count(), 3, "{feed}");
    assert_eq!(feed.matches(r#"name="csrf_token""#).count(), 1, "{feed}");

    let again = app.new_browser();
    again.logged_in("alice").await;
    let other = again.get_text("/").await;
    let controls = |html: &str| {
        html.split("<footer class=\"post__actions\">")
            .skip(1)
            .map(|s| s.split("</footer>").next().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(controls(&feed), controls(&other));
    assert_ne!(csrf_token_in(&feed), csrf_token_in(&other));
}

#[tokio::test]
async fn deleting_without_javascript_goes_back_to_the_feed() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app.publish("Doomed", "bye").await;
    let resp = app.submit(&format!("/posts/{id}/delete"), &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp).as_deref(), Some("/"));
    assert!(
        app.get_text("/")
            .await
            .contains("Your post “Doomed” is deleted.")
    );
    assert_eq!(
        app.get(&format!("/posts/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.count("posts").await, 0);
}

#[tokio::test]
async fn deleting_under_htmx_swaps_nothing_in_and_announces_the_same_sentence() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app.publish("Doomed", "bye").await;
    let html = app.get_text("/").await;
    assert!(
        html.contains(&format!(
            r##"hx-delete="/posts/{id}" hx-target="#post-{id}" hx-swap="outerHTML" hx-confirm="##
        )),
        "{html}"
    );

    let token = app.csrf_token().await;
    let resp = app
        .client
        .delete(app.url(&format!("/posts/{id}")))
        .header("HX-Request", "true")
        .header("HX-Current-URL", app.url("/"))
        .header("X-CSRF-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Nothing takes the post's place, and the page's live region gets the
    // very sentence the feed shows after a deletion without JavaScript.
    assert_eq!(
        only_announcement(&resp.text().await.unwrap()).as_deref(),
        Some("Your post “Doomed” is deleted.")
    );
    assert_eq!(app.count("posts").await, 0);

    // From the post's own page, the browser goes to the feed instead, where
    // the same sentence waits.
    let id = app.publish("Also doomed", "bye").await;
    let resp = app
        .client
        .delete(app.url(&format!("/posts/{id}")))
        .header("HX-Request", "true")
        .header("HX-Current-URL", app.url(&format!("/posts/{id}")))
        .header("X-CSRF-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(header_of(&resp, "hx-redirect").as_deref(), Some("/"));
    assert_eq!(app.count("posts").await, 0);
    assert!(
        app.get_text("/")
            .await
            .contains("Your post “Also doomed” is deleted.")
    );
}

#[tokio::test]
async fn deleting_needs_the_csrf_token() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app.publish("Kept", "safe").await;
    let resp = app
        .client
        .delete(app.url(&format!("/posts/{id}")))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("posts").await, 1);
}

#[tokio::test]
async fn scripts_in_titles_and_bodies_are_rendered_harmless() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let id = app
        .publish(
            "<script>alert('title')</script>",
            "<script>alert('body')</script>\n\n<img src=x onerror=alert(1)>\n\n\
             [click](javascript:alert(1)) [ok](https://example.org/)\n\n<a href=\"javascript:alert(2)\">raw</a>",
        )
        .await;
    for page in [
        app.get_text("/").await,
        app.get_text(&format!("/posts/{id}")).await,
    ] {
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("onerror=alert(1)>"), "{page}");
        for tag in page.split("<a ").skip(1) {
            let tag = &tag[..tag.find('>').unwrap()];
            assert!(
                !tag.to_lowercase().contains("javascript:"),
                "a live javascript: link: {tag}"
            );
        }
        assert!(page.contains("&lt;script&gt;alert("), "{page}");
        assert!(
            page.contains(
                r#"<a href="https://example.org/" rel="nofollow noopener noreferrer">ok</a>"#
            ),
            "{page}"
        );
    }
}

#[tokio::test]
async fn forty_five_posts_page_as_20_20_and_5_with_none_missing_or_repeated() {
    // More posts than the posting limit allows one account.
    let app = spawn_app_with(&["--post-limit", "0"]).await;
    app.signed_up("alice").await;
    let mut published = Vec::new();
    for i in 0..45 {
        published.push(app.publish(&format!("Post {i}"), "text").await);
    }
    published.reverse(); // newest first

    let visitor = app.new_browser();
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut next = Some("/".to_owned());
    while let Some(path) = next {
        let html = visitor.get_text(&path).await;
        let ids = post_ids(&html);
        sizes.push(ids.len());
        seen.extend(ids);
        next = older_link(&html);
        if let Some(link) = &next {
            assert!(link.starts_with("/?before="), "{link}");
            assert!(html.contains("Older posts"));
        }
    }
    assert_eq!(sizes, vec![20, 20, 5]);
    assert_eq!(seen, published);
}

#[tokio::test]
async fn pages_stay_exact_while_new_posts_arrive() {
    // More posts than the posting limit allows one account.
    let app = spawn_app_with(&["--post-limit", "0"]).await;
    app.signed_up("alice").await;
    let mut published = Vec::new();
    for i in 0..45 {
        published.push(app.publish(&format!("Post {i}"), "text").await);
    }
    published.reverse();

    let first = app.new_browser().get_text("/").await;
    let mut seen = post_ids(&first);
    let mut next = older_link(&first);
    // Five new posts land between the page loads.
    for i in 0..5 {
        app.publish(&format!("Late {i}"), "text").await;
    }
    while let Some(path) = next {
        let html = app.get_text(&path).await;
        seen.extend(post_ids(&html));
        next = older_link(&html);
    }
    assert_eq!(seen, published, "nothing missing, nothing twice");
}

#[tokio::test]
async fn load_more_under_htmx_answers_the_next_page_alone() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    for i in 0..25 {
        app.publish(&format!("Post {i}"), "text").await;
    }
    let home = app.get_text("/").await;
    let link = older_link(&home).unwrap();
    assert!(
        home.contains(&format!(
            r##"hx-get="{}" hx-target="#feed-more" hx-swap="outerHTML">Load more</button>"##,
            link.replace('/', "&#x2f;")
        )),
        "{home}"
    );
    let more = app.hx_get(&link).await;
    assert_eq!(header_of(&more, "vary").as_deref(), Some("HX-Request"));
    let more = more.text().await.unwrap();
    assert!(
        !more.contains("<html") && !more.contains("Welcome"),
        "{more}"
    );
    assert_eq!(post_ids(&more).len(), 5);
    assert!(older_link(&more).is_none(), "the last page offers no more");
    assert!(!more.contains("Load more"));
}

#[tokio::test]
async fn a_broken_page_link_is_a_400() {
    let app = spawn_app().await;
    for path in ["/?before=garbage", "/?before=1_2", "/u/alice?before=%00"] {
        let status = app.get(path).await.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{path}: {status}"
        );
    }
    assert_eq!(
        app.get("/?before=garbage").await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_persons_page_lists_only_their_posts_and_pages_the_same_way() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let bob = app.new_browser();
    bob.signed_up("bob").await;
    let mut alices = Vec::new();
    for i in 0..23 {
        alices.push(app.publish(&format!("Alice {i}"), "a").await);
        bob.publish(&format!("Bob {i}"), "b").await;
    }
    alices.reverse();
    let page = app.new_browser().get_text("/u/Alice").await;
    assert!(page.contains("Posts by alice"), "{page}");
    let mut seen = post_ids(&page);
    assert_eq!(seen.len(), 20);
    let link = older_link(&page).unwrap();
    assert!(link.starts_with("/u/alice?before="), "{link}");
    let rest = app.get_text(&link).await;
    seen.extend(post_ids(&rest));
    assert!(older_link(&rest).is_none());
    assert_eq!(seen, alices);
    assert_eq!(app.get("/u/nobody").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/u/not%20valid").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_posts_make_exactly_two_hundred_rows() {
    // More posts than the posting limit allows one account.
    let app = spawn_app_with(&["--post-limit", "0"]).await;
    app.signed_up("alice").await;
    let token = app.csrf_token().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let client = app.client.clone();
        let url = app.url("/posts");
        let token = token.clone();
        tasks.spawn(async move {
            client
                .post(url)
                .form(&[
                    ("title", format!("Concurrent {i}")),
                    ("body", "at once".into()),
                    ("csrf_token", token),
                ])
                .send()
                .await
                .map(|r| r.status())
        });
    }
    let mut created = 0;
    while let Some(result) = tasks.join_next().await {
        let status = result.unwrap().expect("no connection error");
        assert_eq!(status, StatusCode::SEE_OTHER, "every request succeeds");
        created += 1;
    }
    assert_eq!(created, 200);
    assert_eq!(app.count("posts").await, 200);

    // All readable, through the feed's pages.
    let mut titles = HashSet::new();
    let mut next = Some("/".to_owned());
    while let Some(path) = next {
        let html = app.get_text(&path).await;
        for id in post_ids(&html) {
            assert!(titles.insert(id), "no post twice");
        }
        next = older_link(&html);
    }
    assert_eq!(titles.len(), 200);
}

#[tokio::test]
async fn a_nul_byte_in_a_form_is_an_inline_error_not_a_500() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let resp = app
        .submit("/posts", &[("title", "a\u{0}b"), ("body", "text")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("cannot hold control characters")
    );
    let login = app.new_browser().login("ali\u{0}ce", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("posts").await, 0);
}
