"""The studio's static files (HTML, CSS, ES modules), shipped as package data and served by daemon/websocket.py."""
