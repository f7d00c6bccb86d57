"""lexboard: analytics for Amazon Lex V2 chatbots from their conversation logs."""

__version__ = "0.1.0"
