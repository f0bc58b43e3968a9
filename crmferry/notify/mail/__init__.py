"""E-mail: who gets mail (recipients.py), the message (message.py, from the Jinja
templates here), sending it over SMTP (smtp.py) and the delivery kind (kind.py)."""
