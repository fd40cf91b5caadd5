"""Once-per-server-process plumbing that belongs to the web server, not to any page."""

from __future__ import annotations

import threading

import streamlit as st

from lab import settings


def expire_disconnected_sessions() -> int:
    """Drop the sessions whose reconnect window (``server.disconnectedSessionTTL``) has passed.

    Streamlit's session store (a TTL cache) reaps expired entries only when it is written to; this
    reaches it through the runtime's private attributes (checked in tests/test_app.py for the
    Streamlit version in requirements.txt) and does nothing where they are not found.
    """
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return 0
    storage = getattr(getattr(Runtime.instance(), "_session_mgr", None), "_session_storage", None)
    cache = getattr(storage, "_cache", None)
    return len(cache.expire()) if hasattr(cache, "expire") else 0


@st.cache_resource(show_spinner=False)
def memory_housekeeping() -> threading.Thread:
    """Once per server process: bound malloc's arenas, and hand back expired sessions' memory."""
    from lab import supervisor as loop

    loop.limit_malloc_arenas(settings.get("CNNLAB_MALLOC_ARENAS"))  # 0: glibc's default
    thread = threading.Thread(
        target=loop.memory_loop, args=(expire_disconnected_sessions,), name="cnnlab-memory", daemon=True
    )
    thread.start()
    return thread
