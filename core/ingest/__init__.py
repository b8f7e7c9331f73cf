"""Reading documents: find files (scanning), extract their text (documents, pdf_extract, textdecode), chunk it."""
