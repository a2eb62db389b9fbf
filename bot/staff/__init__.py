"""The staff workspace (issue 18): IROs, the duty team, participation officers and admins sign
in at /staff to see reviews' progress, read a child's answers where they are allowed, and own
safeguarding alerts. Server-rendered pages, no script; every reading of a child's words is in
the audit trail (storage/repositories/audit.py).

- credentials.py: passwords (argon2id) and the second factor (TOTP, enrolled by QR code)
- accounts.py: adding staff and their one-time set-up links (the CLI and the admin page)
- sessions.py: sign-in, server-side sessions, CSRF, slowing failed sign-ins
- board.py: what each role's pages show (a review's progress, the alert board)
- roles.py: a person's roles (more than one may be held), each read the strictest way
- pages.py: the routes, and who may reach what
"""
