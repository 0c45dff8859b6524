"""What the tests share: the in-process model of the API's lists, and (as the suite grows)
the helpers that run the tap, Meltano and the warehouses."""
