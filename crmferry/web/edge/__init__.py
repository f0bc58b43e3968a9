"""The web edge: what every request passes before it reaches a route, and every
response on its way out (security headers, allowed hosts, trusted proxies, request
bodies bounded and read only after authentication)."""
