/* The chat page's own script (bot/web_door.py serves it; chat.html loads it first).
 *
 * 1. The invite code comes in the link's fragment (/chat#K7M-4QX-9PD). It is read, then taken
 *    out of the address bar before anything else happens: a fragment is never sent to a
 *    server, and once gone it is in no history entry, bookmark or shared link either.
 * 2. "Leave quickly" (the link at the top, or Shift pressed on its own three times within two
 *    seconds) replaces this page with an ordinary site: nothing is left to go back to.
 * 3. The chat: a Direct Line token from this server, then the official Web Chat. Once it is
 *    connected, the code goes as the child's first message. Typing a code works as well.
 *
 * Nothing is written to the browser's storage (no cookies, localStorage, sessionStorage or
 * IndexedDB): closing the tab ends the chat, and coming back needs the code again.
 */
(function () {
  'use strict';

  var root = document.documentElement;
  var SHIFT_PRESSES = 3;
  var SHIFT_WINDOW_MS = 2000;
  // Direct Line's connection states (botframework-directlinejs ConnectionStatus).
  var ONLINE = 2;
  var FAILED_TO_CONNECT = 4;
  var ENDED = 5;

  // --- 1. the code, out of the address bar at once ------------------------------------------

  function inviteCode(fragment) {
    var text;
    try {
      text = decodeURIComponent(fragment.replace(/^#/, ''));
    } catch (e) {
      return null;
    }
    // "K7M-4QX-9PD", "k7m4qx9pd", "K7M 4QX 9PD": letters and digits are the code.
    var squashed = text.replace(/[\s\-\u2010-\u2015_.]/g, '').toUpperCase();
    if (!/^[A-Z0-9]{8,9}$/.test(squashed)) {
      return null;
    }
    if (squashed.length === 9) {
      return squashed.slice(0, 3) + '-' + squashed.slice(3, 6) + '-' + squashed.slice(6);
    }
    return squashed;
  }

  // Kept in memory only, for this tab's chats: sent again if the page must start a new one.
  var code = inviteCode(location.hash);
  if (location.href.indexOf('#') >= 0) {
    history.replaceState(null, '', location.pathname + location.search);
  }

  // --- 2. Leave quickly ------------------------------------------------------------------------

  var directLine = null;
  var leaving = false;

  function leave() {
    if (leaving) {
      return;
    }
    leaving = true;
    root.classList.add('leaving');
    code = null;
    try {
      if (directLine) {
        directLine.end();
      }
    } catch (e) {
      // Leaving matters more than closing the connection tidily.
    }
    // replace(): the chat's entry in the history is overwritten, so Back cannot return to it.
    location.replace(root.getAttribute('data-leave-url'));
  }

  document.addEventListener(
    'click',
    function (event) {
      var target = event.target;
      if (target && target.closest && target.closest('#leave')) {
        event.preventDefault();
        leave();
      }
    },
    true
  );

  // Shift pressed on its own, three times within two seconds. Any other key in between starts
  // the count again, so capital letters typed in an answer never add up to leaving.
  var shifts = [];
  window.addEventListener(
    'keydown',
    function (event) {
      if (event.key !== 'Shift') {
        shifts = [];
        return;
      }
      if (event.repeat) {
        return;
      }
      var now = Date.now();
      shifts = shifts.filter(function (at) {
        return now - at < SHIFT_WINDOW_MS;
      });
      shifts.push(now);
      if (shifts.length >= SHIFT_PRESSES) {
        leave();
      }
    },
    true
  );

  // --- 3. the chat -----------------------------------------------------------------------------

  var retryTimer = null;

  function notice(kind) {
    var box = document.getElementById('notice');
    var text = document.getElementById('notice-text');
    var retry = document.getElementById('retry');
    if (!box || !text || !retry) {
      return;
    }
    if (!kind) {
      box.hidden = true;
      return;
    }
    text.textContent = root.getAttribute('data-' + kind) || '';
    retry.hidden = kind === 'loading';
    box.hidden = false;
  }

  function problem(kind, retryAfterSeconds) {
    notice(kind);
    if (retryAfterSeconds) {
      clearTimeout(retryTimer);
      retryTimer = setTimeout(connect, Math.min(Math.max(retryAfterSeconds, 5), 300) * 1000);
    }
  }

  function styleOptions() {
    var accent = root.getAttribute('data-accent');
    return {
      accent: accent,
      primaryFont:
        "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans Arabic', Arial, sans-serif",
      rootHeight: '100%',
      bubbleBorderRadius: 12,
      bubbleFromUserBorderRadius: 12,
      bubbleFromUserBackground: '#eef3fa',
      bubbleMaxWidth: 640,
      bubbleMinHeight: 44,
      hideUploadButton: true,
      markdownRenderHTML: false,
      sendBoxHeight: 56,
      sendBoxTextWrap: true,
      // Suggested actions wrap onto as many lines as they need: never a sideways carousel.
      suggestedActionLayout: 'flow',
      suggestedActionHeight: 44,
      suggestedActionBorderRadius: 22,
      suggestedActionBorderWidth: 2,
      suggestedActionTextColor: accent,
      suggestedActionBorderColor: accent
    };
  }

  function render(token) {
    var WebChat = window.WebChat;
    directLine = WebChat.createDirectLine({
      token: token,
      domain: location.origin + '/v3/directline',
      webSocket: true
    });
    // Once per chat: were the connection to be fulfilled again, the code would be an answer.
    var codeSent = false;
    var store = WebChat.createStore({}, function (api) {
      return function (next) {
        return function (action) {
          var result = next(action);
          if (action.type === 'DIRECT_LINE/CONNECT_FULFILLED') {
            notice(null);
            if (code && !codeSent) {
              codeSent = true;
              api.dispatch({ type: 'WEB_CHAT/SEND_MESSAGE', payload: { text: code } });
            }
          } else if (action.type === 'DIRECT_LINE/CONNECT_REJECTED') {
            problem('offline');
          } else if (action.type === 'DIRECT_LINE/UPDATE_CONNECTION_STATUS') {
            var status = action.payload && action.payload.connectionStatus;
            if (status === ONLINE) {
              notice(null);
            } else if (status === FAILED_TO_CONNECT || (status === ENDED && !leaving)) {
              problem('offline');
            }
          }
          return result;
        };
      };
    });
    var strings = JSON.parse(root.getAttribute('data-strings') || '{}');
    var chat = document.getElementById('chat');
    WebChat.renderWebChat(
      {
        directLine: directLine,
        store: store,
        locale: root.lang,
        dir: root.dir,
        nonce: scriptNonce,
        styleOptions: styleOptions(),
        overrideLocalizedStrings: strings
      },
      chat
    );
  }

  // The nonce Web Chat gives the styles it writes: this script's own, as the page sent it.
  var scriptNonce = document.currentScript ? document.currentScript.nonce : '';

  function connect() {
    clearTimeout(retryTimer);
    if (leaving) {
      return;
    }
    if (!window.WebChat) {
      problem('error');
      return;
    }
    if (directLine) {
      try {
        directLine.end();
      } catch (e) {
        // a new chat starts whatever the old one does
      }
      directLine = null;
    }
    // A fresh element for the new chat: the old one may hold a Web Chat that was rendered.
    var old = document.getElementById('chat');
    old.replaceWith(old.cloneNode(false));
    notice('loading');
    // The page's language goes with it: the welcome, before the child says anything, is in it.
    fetch('/v3/directline/tokens/generate', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ locale: root.lang }),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer'
    })
      .then(function (response) {
        if (response.status === 429) {
          problem('busy', parseInt(response.headers.get('Retry-After'), 10) || 60);
          return null;
        }
        if (!response.ok) {
          problem('error');
          return null;
        }
        return response.json().then(function (body) {
          if (!body || typeof body.token !== 'string') {
            problem('error');
            return;
          }
          try {
            render(body.token);
          } catch (e) {
            problem('error');
          }
        });
      })
      .catch(function () {
        problem('offline');
      });
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.getElementById('retry').addEventListener('click', connect);
    connect();
  });
})();
