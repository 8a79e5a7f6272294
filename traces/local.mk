# traces fragment
