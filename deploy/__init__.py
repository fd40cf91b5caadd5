"""Serving CNN Lab to a room: several Streamlit processes behind nginx (see deploy/workshop.py)."""
