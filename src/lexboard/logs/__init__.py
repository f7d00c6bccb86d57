"""Reading Lex V2 conversation logs: records (the schema) and formats (the containers)."""
