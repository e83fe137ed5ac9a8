"""Server-rendered pages of the web client (templates and assets live in webclient/)."""
