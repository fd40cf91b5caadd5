"""Who is asking: this browser's owner token for its runs (from its XSRF cookie), its address, and
whether the link carries the instructor's token."""

from __future__ import annotations

import secrets

import streamlit as st


def session_key() -> str:
    """A random id for this browser tab's session (lost on refresh)."""
    if "session_key" not in st.session_state:
        st.session_state["session_key"] = secrets.token_hex(16)
    return st.session_state["session_key"]


def _cookie_secret() -> bytes | None:
    """The raw token of Streamlit's XSRF cookie: random per browser, and kept across refreshes."""
    value = st.context.cookies.get("_streamlit_xsrf", "").strip("\"'")
    parts = value.split("|")
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    return bytes(byte ^ mask[i % 4] for i, byte in enumerate(masked)) if len(mask) == 4 and masked else None


def client_address() -> str | None:
    """The client's address: behind our own nginx, the last X-Forwarded-For hop (nginx appends the
    address it saw; anything before it the client may have written), else the socket's. None where
    there is none."""
    address = st.context.ip_address
    forwarded = (st.context.headers.get("X-Forwarded-For") or "").split(",")[-1].strip()
    return forwarded if forwarded and address in ("127.0.0.1", "::1") else address


def owner() -> str:
    """This browser's owner token for runs (:func:`lab.ownership.owner_token`): from its XSRF cookie, so a
    refresh keeps it. A client without the cookie (a script, a fresh cookie-less session) is its
    address: a new session each time no longer makes a new learner with a new run allowance. Only
    where neither is known (tests, XSRF off) is it this session."""
    if "owner" not in st.session_state:
        from lab import ownership

        address = client_address()
        key = _cookie_secret() or (f"address:{address}" if address else None) or session_key()
        st.session_state["owner"] = ownership.owner_token(key)
    return st.session_state["owner"]


def instructor() -> bool:
    """An instructor (``?instructor=<CNNLAB_INSTRUCTOR_TOKEN>``) may cancel or resume any run."""
    from lab import ownership

    return ownership.instructor(st.query_params.get("instructor"))
