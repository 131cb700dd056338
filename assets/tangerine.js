// Tangerine's own script, small and optional: every page works without it.
// It does what server-rendered HTML cannot do alone once htmx swaps parts of
// a page in and out:
//
// - keyboard focus goes where the person's attention should be, rather than
//   falling back to <body> when the focused element is swapped away:
//   the composer's title when it opens; the first field in error (else the
//   error summary) when a form comes back with errors; the first new post
//   after Load more; the next item (else the previous one, else the list's
//   heading) after a post is deleted or a session ended; the form or the
//   post that takes the place of another (editing in place); the field an
//   error summary's link names;
// - times (<time class="js-local-time" datetime>, written in UTC by the
//   server) are shown in the reader's own clock, as HH:MM.
//
// Messages are announced by the page's live region (#messages), which the
// server fills out of band: nothing to do here.
(function () {
  'use strict';

  // --- Times in the reader's clock ---------------------------------------

  const dateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
  const two = (n) => String(n).padStart(2, '0');

  function localiseTimes(root) {
    const times = root.matches?.('time.js-local-time') ? [root] : root.querySelectorAll('time.js-local-time');
    for (const time of times) {
      if (time.dataset.localised) continue;
      const at = new Date(time.getAttribute('datetime'));
      if (Number.isNaN(at.getTime())) continue;
      // The UTC text stays at hand as the element's title.
      time.title = time.textContent.trim();
      time.textContent = `${dateFormat.format(at)}, ${two(at.getHours())}:${two(at.getMinutes())}`;
      time.dataset.localised = 'true';
    }
  }

  // --- Focus ---------------------------------------------------------------

  /** Focuses `el`, making it focusable by script first if it is not. */
  function focus(el) {
    if (!el) return false;
    if (el.tabIndex < 0 && !el.hasAttribute('tabindex')) el.setAttribute('tabindex', '-1');
    el.focus();
    return document.activeElement === el;
  }

  /** What to focus for an item of a list: a post's title link, a session's button. */
  function handleOf(item) {
    if (!item) return null;
    if (item.matches('article.post')) return item.querySelector('.post__title a');
    if (item.matches('.feed__end')) return item;
    return item.querySelector('button, a[href]') || item;
  }

  const ITEMS = 'article.post, li.session';

  function siblingItem(el, direction) {
    let sib = el[direction];
    while (sib && !sib.matches(ITEMS)) sib = sib[direction];
    return sib;
  }

  /** The heading of the list an item belongs to. */
  function headingOf(item) {
    const section = item.closest('section');
    return section?.querySelector('#feed-title, #sessions-title, h1, h2') ?? document.querySelector('#main');
  }

  function firstInvalid(root) {
    return root.querySelector('[aria-invalid="true"]') ?? root.querySelector('.error-summary');
  }

  // What the swap under way is about, noted before it happens.
  let pending = null;

  document.addEventListener('htmx:beforeSwap', (event) => {
    const { target, xhr } = event.detail;
    if (!target) return;
    if (target.id === 'feed-more') {
      // Load more: the posts come in where the button was.
      pending = { kind: 'more', before: target.previousElementSibling, feed: target.parentElement };
    } else if (xhr.status < 300 && target.matches(ITEMS)) {
      // An item that may go (deleted, ended) or be replaced (edited).
      pending = {
        kind: 'item',
        target,
        id: target.id,
        next: siblingItem(target, 'nextElementSibling'),
        previous: siblingItem(target, 'previousElementSibling'),
        heading: headingOf(target),
      };
    } else {
      pending = { kind: 'other', target };
    }
  });

  // Once the new content has settled. A target swapped for nothing has
  // nothing to settle: that case is taken when the answer has been handled
  // (htmx dispatches that event on the nearest element still there).
  document.addEventListener('htmx:afterSettle', (event) => settle(event.detail));
  document.addEventListener('htmx:afterOnLoad', (event) => {
    const target = pending?.target;
    if (target && !target.isConnected && !(target.id && document.getElementById(target.id))) {
      settle(event.detail);
    }
  });

  function settle(detail) {
    const note = pending;
    pending = null;
    if (!note) return;
    const status = detail.xhr?.status ?? 200;

    if (status >= 400) {
      // A form came back with errors (422), or a refusal (429, 503): the
      // first field in error, or else the summary that says what happened.
      const form = document.getElementById(detail.target?.id) ?? detail.target;
      const scope = form?.isConnected ? form : document;
      focus(firstInvalid(scope));
      return;
    }

    if (note.kind === 'more') {
      const first = note.before ? note.before.nextElementSibling : note.feed?.firstElementChild;
      focus(handleOf(first?.matches(`${ITEMS}, .feed__end`) ? first : null));
      return;
    }

    if (note.kind === 'item') {
      const replacement = document.getElementById(note.id);
      if (replacement && replacement !== note.target) {
        // Editing in place: the form's first field, or the post again.
        if (replacement.matches('form')) focus(firstInvalid(replacement) ?? replacement.querySelector('input:not([type=hidden]), textarea'));
        else focus(handleOf(replacement));
        return;
      }
      if (!note.target.isConnected) {
        // Gone: the next item, else the previous one, else the list's heading.
        const next = [note.next, note.previous].find((el) => el?.isConnected);
        focus(handleOf(next) ?? note.heading);
      }
      return;
    }

    const target = note.target;
    if (target?.id === 'composer' && target.querySelector('#post-form')) {
      focus(document.getElementById('post-title'));
    } else if (target?.id === 'post-form' && !target.isConnected) {
      // The composer closed (Cancel): back to the button that opened it.
      focus(document.querySelector('.create-post-btn'));
    } else if (target?.id === 'feed' && detail.requestConfig?.verb === 'post') {
      // Published: the new post, now first in the feed.
      focus(handleOf(target.querySelector('article.post')));
    }
  }

  // --- The error summary ---------------------------------------------------

  // A link of the summary focuses its field (following it alone would only
  // scroll there), with the field's label in view.
  document.addEventListener('click', (event) => {
    const link = event.target.closest?.('.error-summary a[href^="#"]');
    const field = link && document.getElementById(link.getAttribute('href').slice(1));
    if (!field) return;
    event.preventDefault();
    const label = document.querySelector(`label[for="${CSS.escape(field.id)}"]`);
    field.focus({ preventScroll: true });
    (label ?? field).scrollIntoView({ block: 'center' });
  });

  // --- Start ---------------------------------------------------------------

  // Whole pages, and every piece of HTML htmx swaps in.
  document.addEventListener('htmx:load', (event) => localiseTimes(event.detail.elt));
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', () => localiseTimes(document));
  } else {
    localiseTimes(document);
  }
})();
