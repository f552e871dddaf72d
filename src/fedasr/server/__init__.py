"""Server-side round hooks: client-rate decay on a stall, fall-back to the best model, server
replay on held labelled data."""
