"""The served product: the page, the portal API and the embeddable chat."""
