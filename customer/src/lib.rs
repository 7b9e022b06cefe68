//! The customers' WebAssembly entry point, for the pages customers open (the chat's page and
//! the widget): the app built without the agents' console (`app`'s feature `console`). The
//! server chooses which bundle a page loads (`app::components`, `shell`); an agent who logs
//! in here reloads the page and gets the agents' bundle (`frontend/`).
//!
//! This bundle does not hydrate the server's page: it draws the page again over it (Leptos's
//! client-side rendering, `app`'s feature `csr`), which spares it every view's hydration code
//! (docs/bundle-size.md). The server's markup gives the first paint; the page drawn here
//! replaces it within one task, so the browser never paints between the two. What the reader
//! did meanwhile is carried over: what they typed or ticked, and where the focus was.
//!
//! The recursion limit: as in `frontend/` (the page's view type is the same).
#![recursion_limit = "256"]

use js_sys::Reflect;
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use web_sys::{Element, HtmlInputElement, Node};

/// Named `hydrate` as Leptos's loader script calls it.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // A panic's message in the browser's console: in debug builds (`make watch`), and in
    // release ones built without -Zbuild-std; the others panic without one
    // (scripts/wasm-build-std.toml).
    console_error_panic_hook::set_once();
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Some(body) = document.body() else { return };
    // The server's markup, kept until the page is drawn: the app reads the language it was
    // rendered in from it (`page_lang`).
    let server: Vec<Node> = {
        let nodes = body.child_nodes();
        (0..nodes.length()).filter_map(|i| nodes.item(i)).collect()
    };
    let focused = document.active_element();
    // Appended after the server's markup.
    leptos::mount::mount_to_body(app::App);
    // The server's fields, then the server's markup gone: what is left in the body is the
    // drawn page (a removed field keeps what the reader put into it).
    let fields: Vec<Element> = server
        .iter()
        .filter_map(|node| node.dyn_ref::<Element>())
        .filter_map(|old| {
            old.query_selector_all("input[data-testid], textarea[data-testid], select[data-testid]")
                .ok()
        })
        .flat_map(|found| (0..found.length()).filter_map(move |i| found.item(i)))
        .filter_map(|node| node.dyn_into::<Element>().ok())
        .collect();
    let focused = focused.filter(|f| server.iter().any(|s| s.contains(Some(f))));
    for node in &server {
        // The app draws beside them and never moves them: nothing to report if one is gone.
        let _ = body.remove_child(node);
    }
    let drawn: Vec<Element> = body
        .query_selector_all("[data-testid]")
        .into_iter()
        .flat_map(|found| (0..found.length()).filter_map(move |i| found.item(i)))
        .filter_map(|node| node.dyn_into::<Element>().ok())
        .collect();
    for field in &fields {
        if let Some(target) = counterpart(&drawn, field) {
            carry_over(field, target);
        }
    }
    // The focus where it was: on the drawn page's counterpart of the focused field. (If the
    // reader also chose a language, the views drawn again in it do not have the focus.)
    let focus = focused.and_then(|f| counterpart(&drawn, &f));
    if let Some(element) = focus.and_then(|e| e.dyn_ref::<web_sys::HtmlElement>()) {
        let _ = element.focus();
    }
}

/// The drawn page's counterpart of the server's element `old`: the one of `drawn` with the
/// same `data-testid` and, for one of a group of radio buttons sharing it, the same `value`.
/// Attributes are compared rather than put into a selector.
fn counterpart<'a>(drawn: &'a [Element], old: &Element) -> Option<&'a Element> {
    let testid = old.get_attribute("data-testid")?;
    let radio = old.dyn_ref::<HtmlInputElement>().is_some_and(|input| input.type_() == "radio");
    let value = radio.then(|| old.get_attribute("value")).flatten();
    drawn.iter().find(|e| {
        e.get_attribute("data-testid").as_deref() == Some(testid.as_str())
            && (!radio || e.get_attribute("value") == value)
    })
}

/// Gives the drawn page's field of the same `data-testid` what the reader typed, ticked or
/// chose in the server's, and tells the app (an `input` or `change` event, as the reader's own
/// would). A box's `checked`, or a field's or a list's `value`: the same property on whichever
/// element it is, read and written by name (`Reflect`) rather than once per element type.
fn carry_over(field: &Element, target: &Element) {
    let tickable = field
        .dyn_ref::<HtmlInputElement>()
        .is_some_and(|input| matches!(input.type_().as_str(), "checkbox" | "radio"));
    let (property, event) = match (tickable, field.tag_name().as_str()) {
        (true, _) => ("checked", "change"),
        (false, "SELECT") => ("value", "change"),
        (false, _) => ("value", "input"),
    };
    let property = JsValue::from_str(property);
    let (Ok(old), Ok(new)) = (Reflect::get(field, &property), Reflect::get(target, &property))
    else {
        return;
    };
    // An empty field leaves the app's as it drew it.
    if old == new || old.as_string().is_some_and(|text| text.is_empty()) {
        return;
    }
    if !Reflect::set(target, &property, &old).unwrap_or(false) {
        return;
    }
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    if let Ok(event) = web_sys::Event::new_with_event_init_dict(event, &init) {
        let _ = target.dispatch_event(&event);
    }
}
