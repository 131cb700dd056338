// Starts the API explorer (Swagger UI, vendored in assets/swagger-ui/) on
// /api/docs, under the site's strict Content-Security-Policy: no inline
// script, so this file does what Swagger UI's own index.html does inline.
//
// Clicking must work as it does for a browser that is logged in: the
// session cookie goes with every call by itself, but calls that change
// something with it also need the X-CSRF-Token header. So before each such
// call this script asks GET /api/session/csrf for the token (it changes
// when a session starts or ends, as after "Try it out" on POST
// /api/session) and adds it. A call authorized with a bearer token
// (Authorize) needs none, and gets none.
(function () {
  'use strict';

  var SAFE = { GET: true, HEAD: true, OPTIONS: true };

  function hasAuthorization(headers) {
    return Object.keys(headers || {}).some(function (name) {
      return name.toLowerCase() === 'authorization';
    });
  }

  function withCsrfToken(request) {
    var method = (request.method || 'GET').toUpperCase();
    if (SAFE[method] || hasAuthorization(request.headers)) {
      return request;
    }
    return fetch('/api/session/csrf', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (resp) { return resp.ok ? resp.json() : null; })
      .then(function (body) {
        if (body && body.token) {
          request.headers = request.headers || {};
          request.headers['X-CSRF-Token'] = body.token;
        }
        return request;
      })
      .catch(function () { return request; });
  }

  function start() {
    var root = document.getElementById('swagger-ui');
    if (!root || typeof window.SwaggerUIBundle !== 'function') {
      return;
    }
    window.ui = window.SwaggerUIBundle({
      url: root.getAttribute('data-spec-url'),
      domNode: root,
      deepLinking: true,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: 'BaseLayout',
      // The browser keeps the session cookie; the token typed into
      // Authorize lasts as long as the page.
      persistAuthorization: false,
      withCredentials: true,
      tryItOutEnabled: false,
      // No validator badge: it would send the spec to another site.
      validatorUrl: null,
      requestInterceptor: withCsrfToken
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
