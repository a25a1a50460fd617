-- Data share by model generation.
-- Answers: of everything spent to produce each generation, how much went into data and how
--   much into training, and is the share at the target and at the break-even share 1 - 1/m?
-- Parameters: none (shares are to date: a generation's datasets amortize over its lifetime).
-- Marts: fct_data_share.
select
    model_generation,
    round(data_cost_usd, 2) as data_cost_usd,
    round(training_cost_usd, 2) as training_cost_usd,
    round(data_share, 4) as data_share,
    round(target_share, 4) as target_share,
    round(break_even_share, 4) as break_even_share,
    data_share >= break_even_share as at_or_above_break_even
from fct_data_share
order by model_generation
