"""Streamlit pages: one file per tool, thin (widgets -> one lab call -> render)."""
