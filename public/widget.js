/* The support chat on any site: one tag,
 *   <script src="https://chat.example.com/widget.js" async
 *           data-color="#2457d6" data-position="right" data-greeting="Hi! How can we help?" data-lang="en"></script>
 * shows a chat button that opens the customer view (this server's /widget) in a frame.
 * data-color: #rgb or #rrggbb (an alpha, #rgba or #rrggbbaa, is dropped); data-position:
 * right (default) or left; data-lang: en or zh-CN (default: the reader's browser);
 * data-greeting: up to 200 characters. A signed-in user of the site: data-user-id,
 * data-user-name, data-user-expires (seconds since the epoch, at most a day ahead),
 * optionally data-user-attributes (a JSON object of short strings the agents see, e.g.
 * {"plan":"pro"}) and data-user-sig (hex HMAC-SHA256 of id, newline, name, newline,
 * expires, and with attributes a newline and their exact text, under the secret the site
 * shares with the chat's WIDGET_SECRET). The page the chat is opened on is shown to the
 * agents. */
(function () {
  'use strict';
  var me = document.currentScript;
  if (!me || window.__supportChatWidget) return;
  window.__supportChatWidget = true;
  var origin = new URL(me.src, location.href).origin;
  var data = me.dataset;
  // Opaque: an alpha is dropped (the page inside does the same, app/src/colour.rs).
  var color = /^#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/.test(data.color || '') ? data.color : '#2457d6';
  if (color.length === 5 || color.length === 9) color = color.slice(0, color.length === 5 ? 4 : 7);
  // The icon on the button: black or white, whichever stands out more from the colour (the
  // page inside does the same for its text: app/src/colour.rs).
  var ink = (function () {
    var hex = color.slice(1);
    var wide = hex.length > 4;
    var channel = function (i) {
      var c = parseInt(wide ? hex.substr(i * 2, 2) : hex[i] + hex[i], 16) / 255;
      return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    };
    var l = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
    return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? '#000' : '#fff';
  })();
  var side = data.position === 'left' ? 'left' : 'right';
  var lang = /^zh/i.test(data.lang || navigator.language || '') ? 'zh-CN' : 'en';
  var words = lang === 'zh-CN'
    ? { open: '联系客服', close: '关闭客服聊天', title: '在线客服' }
    : { open: 'Chat with support', close: 'Close the support chat', title: 'Support chat' };

  var query = new URLSearchParams({ color: color, lang: lang });
  if (data.greeting) query.set('greeting', data.greeting.slice(0, 200));
  // A user the site vouches for (signed on the site's server, see the README): passed in
  // the fragment, which browsers never send to a server.
  var fragment = new URLSearchParams();
  if (data.userId && data.userName) {
    fragment.set('user-id', data.userId);
    fragment.set('user-name', data.userName);
    if (data.userSig) fragment.set('user-sig', data.userSig);
    if (data.userExpires) fragment.set('user-expires', data.userExpires);
    if (data.userAttributes) fragment.set('user-attributes', data.userAttributes);
  }

  var button = document.createElement('button');
  button.type = 'button';
  button.id = 'support-chat-button';
  button.setAttribute('aria-label', words.open);
  button.setAttribute('aria-expanded', 'false');
  button.setAttribute('aria-controls', 'support-chat-frame');
  button.innerHTML = '<svg width="28" height="28" viewBox="0 0 24 24" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
  // Fixed in the chosen corner, above the page, with its own looks.
  var place = function (el, bottom, looks) {
    var at = { position: 'fixed', bottom: bottom, zIndex: '2147483000' };
    at[side] = '16px';
    Object.assign(el.style, at, looks);
  };
  place(button, '16px', {
    width: '56px', height: '56px', borderRadius: '50%', border: '0', background: color, color: ink,
    cursor: 'pointer', boxShadow: '0 4px 14px rgba(0,0,0,.25)', display: 'flex', alignItems: 'center',
    justifyContent: 'center',
  });

  var frame = null;
  var open = false;
  function toggle() {
    if (!frame) {
      // Made at the first click: a page that nobody chats on opens no connection.
      frame = document.createElement('iframe');
      frame.id = 'support-chat-frame';
      frame.title = words.title;
      // The page the reader opens the chat on, for the agents: its address without query or
      // fragment (they may hold secrets), taken now, not when the script loaded (a
      // single-page site changes its address).
      fragment.set('page', location.origin + location.pathname);
      frame.src = origin + '/widget?' + query.toString() + '#' + fragment.toString();
      frame.setAttribute('allow', 'clipboard-write');
      place(frame, '84px', {
        width: 'min(380px, calc(100vw - 32px))', height: 'min(600px, calc(100vh - 110px))', border: '0',
        borderRadius: '12px', boxShadow: '0 8px 30px rgba(0,0,0,.25)', background: 'transparent',
      });
      document.body.appendChild(frame);
    }
    open = !open;
    frame.style.display = open ? 'block' : 'none';
    button.setAttribute('aria-expanded', String(open));
    button.setAttribute('aria-label', open ? words.close : words.open);
    if (open) frame.focus();
  }
  button.addEventListener('click', toggle);
  // Escape closes it, pressed on the page or inside the chat (which tells us so).
  function close() { if (open) { toggle(); button.focus(); } }
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') close(); });
  window.addEventListener('message', function (e) {
    if (e.origin === origin && e.data === 'support-chat:close') close();
  });
  var mount = function () { document.body.appendChild(button); };
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);
})();
