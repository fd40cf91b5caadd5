"""CNN Lab entry point: page config, navigation and the home page. No lab logic here."""

from __future__ import annotations

import platform
import threading

import streamlit as st

from app_pages import DESCRIPTIONS, NAVIGATION, START_HERE
from app_pages._server import memory_housekeeping
from lab import placement, settings

st.set_page_config(page_title="CNN Lab", page_icon=":material/grid_on:", layout="wide")


def tool_pages() -> dict[str, list[st.Page]]:
    return {
        section: [st.Page(path, title=title, url_path=url, icon=icon) for path, title, url, icon in entries]
        for section, entries in NAVIGATION.items()
        if entries
    }


@st.cache_resource(show_spinner=False)
def keep_keras_state() -> bool:
    """Once per server process: stop Streamlit's ``keras.backend.clear_session()`` after every run.

    Streamlit 1.67 calls it after each script run of each session (``_clean_problem_modules``): it
    took 94% of a rerun here (~120 ms of 130 ms on a page that does nothing with Keras, measured
    with py-spy), and it resets Keras' process-wide state while other sessions' threads may be
    building or predicting with the shared, cached models. Nothing here relies on it.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = lambda: None
        return True
    return False


@st.cache_resource(show_spinner=False)
def supervisor() -> threading.Thread:
    """Once per server process: reap dead workers and start queued runs every few seconds, whether
    or not a page is watching (``make run`` also starts ``python -m lab.supervisor``)."""
    from lab import supervisor as loop

    thread = threading.Thread(target=loop.run, kwargs={"trim": True}, name="cnnlab-supervisor", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def device_info():
    from lab import device  # imports TensorFlow: only here, after the page has rendered

    return device.describe()


def device_panel() -> None:
    st.subheader("Compute device")
    with st.spinner("Starting TensorFlow: 10-15 s the first time on this server, then instant…"):
        info = device_info()
    cols = st.columns(4)
    cols[0].metric("TensorFlow", info.tensorflow_version)
    cols[1].metric("Keras", info.keras_version)
    cols[2].metric("CPU cores", info.cpu_count)
    cols[3].metric("GPUs", len(info.gpus))
    if info.gpus:
        st.table(
            [
                {
                    "GPU": gpu.name,
                    "memory (MB)": gpu.memory_mb or "unknown",
                    "compute capability": gpu.compute_capability or "?",
                    "memory growth": "on" if gpu.memory_growth else "off",
                }
                for gpu in info.gpus
            ]
        )
    else:
        st.caption("No GPU found: everything runs on the CPU. Training pages use small models and data.")
    st.caption(f"Python {info.python_version} · Streamlit {st.__version__} · dtype policy {info.mixed_precision}")


def home() -> None:
    st.title("CNN Lab")
    st.markdown(
        "An interactive lab for learning **convolutional neural networks** with TensorFlow/Keras. "
        "Every tool runs real TensorFlow on real images, shows the numbers behind the pictures, "
        "and gives you the Keras code for what you see. It follows the CNN chapter of "
        "*Hands-On Machine Learning* (Géron), Ng's ResNet assignment and the classic CIFAR-10 tutorial."
    )
    pages = tool_pages()
    by_path = {page.url_path: page for entries in pages.values() for page in entries}
    first_visit = [by_path[path] for path in START_HERE if path in by_path]
    if first_visit:
        st.info(
            "**New to CNNs? Start here**, in the chapter's order: "
            + " → ".join(f"[{page.title}]({page.url_path})" for page in first_visit)
            + ". Each page explains itself, and every one ends with the code for what it shows.",
            icon=":material/flag:",
        )
    st.subheader("Tools")
    for section, entries in pages.items():
        st.markdown(f"**{section}**")
        for page in entries:
            left, right = st.columns([1, 3], vertical_alignment="center")
            left.page_link(page)
            right.markdown(DESCRIPTIONS.get(page.url_path, ""))
    device_panel()


placement.install()  # local worker processes, or Ray actors with CNNLAB_RAY_ADDRESS: chosen here, once
keep_keras_state()
memory_housekeeping()
if settings.get("CNNLAB_SUPERVISOR"):  # the test suite runs its own, per test workspace
    supervisor()
sections = {"": [st.Page(home, title="Home", icon=":material/home:", default=True)], **tool_pages()}
navigation = st.navigation(sections, position="hidden")
# Our sidebar links show where the keyboard is (Streamlit's page links draw no focus ring): WCAG 2.4.7.
FOCUS_RING = "outline: 3px solid #0d47a1; outline-offset: 2px;"  # 9.4:1 on white: a ring every Tab stop shows
FOCUSED = (
    ".st-key-navigation a:focus-visible",
    ".react-aria-TextField:focus-within",  # number and text inputs: Streamlit only tints their 1 px border
    ".react-aria-ComboBox:focus-within",  # select boxes, likewise
    "canvas:focus-visible",  # tables and editable grids draw on a canvas
    '[data-testid="stMain"]:focus-visible',  # the main area is a Tab stop of its own (it scrolls)
)
st.html(f"<style>{', '.join(FOCUSED)} {{ {FOCUS_RING} }}</style>")
with st.sidebar.container(key="navigation"):  # links, not Streamlit's list (its ul holds divs: axe's list rule)
    for section, pages in sections.items():
        if section:
            st.markdown(f"**{section}**")
        for page in pages:
            st.page_link(page)
st.sidebar.caption(f"CNN Lab · Python {platform.python_version()}")
navigation.run()
